// Live updates without a full reload: re-fetch this page and swap its #live region.
// The pages work without it; it pauses while the tab is hidden or focus is inside the region.
(function () {
  "use strict";
  function start() {
    var region = document.getElementById("live");
    var seconds = region ? Number(region.dataset.live) : 0;
    if (!seconds) return;
    var params = new URLSearchParams(location.search);
    if (params.has("before") || params.has("after")) return; // older pages do not change
    setInterval(function () {
      if (document.hidden || region.contains(document.activeElement)) return;
      fetch(location.href, { headers: { "X-Live": "1" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
          if (fresh && !region.contains(document.activeElement)) region.innerHTML = fresh.innerHTML;
        })
        .catch(function () { /* a missed refresh is retried at the next tick */ });
    }, seconds * 1000);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
