"""Fill the counters of 0008 from the rows already there: one home for that, kubeface recount."""

from yoyo import step

from kubeface.images.counts import recount

__depends__ = {"0008_image_counts"}

steps = [step(recount)]
