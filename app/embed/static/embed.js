// Undersigned embed: <script src="https://HOST/embed.js" data-letter="SLUG" data-locale="fr" async></script>
// inserts the count widget in an iframe right after the script tag and sizes it to its content.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var letter = script.getAttribute("data-letter") || "";
  if (!/^[a-z0-9-]{3,80}$/.test(letter)) return;
  var locale = script.getAttribute("data-locale");
  var origin = new URL(script.src, document.baseURI).origin;
  var frame = document.createElement("iframe");
  frame.src =
    origin + "/embed/" + letter + (locale ? "?locale=" + encodeURIComponent(locale) : "");
  frame.title = script.getAttribute("data-title") || "Open letter signatures";
  frame.setAttribute("scrolling", "no");
  frame.setAttribute("referrerpolicy", "no-referrer");
  frame.setAttribute(
    "sandbox",
    "allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox"
  );
  frame.style.border = "0";
  frame.style.width = "100%";
  frame.style.maxWidth = script.getAttribute("data-max-width") || "480px";
  frame.style.height = "120px";
  frame.style.overflow = "hidden";
  script.parentNode.insertBefore(frame, script.nextSibling);
  window.addEventListener("message", function (event) {
    if (event.origin !== origin || event.source !== frame.contentWindow) return;
    var data = event.data;
    if (!data || data.type !== "undersigned:height") return;
    var height = Number(data.height);
    if (height > 0 && height < 4000) frame.style.height = Math.ceil(height) + "px";
  });
})();
