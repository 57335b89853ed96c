// Live updates without polling: the server pushes each outcome (Server-Sent Events, /events);
// after one (or a burst, debounced) this page is fetched once and its #live region swapped in.
// The pages work without it. It waits while the tab is hidden or focus is inside the region.
(function () {
  "use strict";
  var DEBOUNCE_MS = 1000;
  function start() {
    var region = document.getElementById("live");
    if (!region || !region.dataset.live || !window.EventSource) return;
    var params = new URLSearchParams(location.search);
    if (params.has("before") || params.has("after")) return; // older pages do not change
    var ids = region.dataset.liveIds;
    var source = new EventSource("/events" + (ids ? "?ids=" + encodeURIComponent(ids) : ""));
    var pending = null;
    var stale = false;
    var opened = false;

    function refresh() {
      pending = null;
      if (document.hidden || region.contains(document.activeElement)) { stale = true; return; }
      stale = false;
      fetch(location.href, { headers: { "X-Live": "1" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) { stale = true; return; }
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
          if (!fresh) return;
          if (region.contains(document.activeElement)) { stale = true; return; }
          region.innerHTML = fresh.innerHTML;
          if (!fresh.dataset.live) source.close(); // final: nothing more will change here
        })
        .catch(function () { stale = true; /* retried at the next event */ });
    }
    function soon() { if (pending === null) pending = setTimeout(refresh, DEBOUNCE_MS); }

    source.addEventListener("outcome", soon);
    // After a reconnect (server restart, or this client fell behind) events may have been missed.
    source.addEventListener("open", function () { if (opened) soon(); opened = true; });
    document.addEventListener("visibilitychange", function () { if (!document.hidden && stale) soon(); });
    region.addEventListener("focusout", function () { if (stale) soon(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
