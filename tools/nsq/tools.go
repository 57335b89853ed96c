//go:build tools

// Package tools pins the NSQ daemons that `make` builds for local runs and tests.
package tools

import (
	_ "github.com/nsqio/nsq/apps/nsqd"
	_ "github.com/nsqio/nsq/apps/nsqlookupd"
)
