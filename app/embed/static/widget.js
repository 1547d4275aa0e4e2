// Undersigned widget: keeps the count fresh from the count JSON, honouring max-age and ETag,
// and tells the embedding page its height (embed.js sizes the iframe).
(function () {
  "use strict";
  var body = document.body;
  var url = body.getAttribute("data-count-url");
  var etag = body.getAttribute("data-etag");
  var maxAge = parseInt(body.getAttribute("data-max-age"), 10) || 10;
  var target = document.getElementById("count");

  function postHeight() {
    if (window.parent === window) return;
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    window.parent.postMessage(
      { type: "undersigned:height", letter: body.getAttribute("data-letter"), height: height },
      "*"
    );
  }

  function freshFor(response) {
    var match = /max-age=(\d+)/.exec(response.headers.get("Cache-Control") || "");
    var age = parseInt(response.headers.get("Age") || "0", 10) || 0;
    return match ? parseInt(match[1], 10) - age : maxAge;
  }

  function schedule(seconds) {
    setTimeout(refresh, Math.max(1, seconds) * 1000);
  }

  function refresh() {
    var headers = etag ? { "If-None-Match": etag } : {};
    fetch(url, { headers: headers, cache: "no-store", credentials: "omit" })
      .then(function (response) {
        if (response.status !== 200) {
          schedule(freshFor(response)); // 304: still current; errors: try again later
          return;
        }
        return response.json().then(function (data) {
          etag = response.headers.get("ETag");
          target.textContent = data.text;
          body.setAttribute("data-total", String(data.total));
          postHeight();
          schedule(freshFor(response));
        });
      })
      .catch(function () {
        schedule(maxAge);
      });
  }

  postHeight();
  window.addEventListener("resize", postHeight);
  schedule(maxAge - (parseInt(body.getAttribute("data-age"), 10) || 0));
})();
