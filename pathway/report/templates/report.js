// The diagram's states and arrows open a panel with their details. The details are in <template>
// elements rendered with the page, so this script only shows them: it fetches nothing.
(function () {
  "use strict";
  var panel = document.getElementById("panel");
  var body = document.getElementById("panel-body");
  var templates = {};
  var opener = null;
  Array.prototype.forEach.call(document.querySelectorAll("template[data-for]"), function (t) {
    templates[t.getAttribute("data-for")] = t;
  });

  function show(id, from) {
    var template = templates[id];
    if (!template) { return; }
    body.replaceChildren(template.content.cloneNode(true));
    Array.prototype.forEach.call(document.querySelectorAll("#diagram .selected"), function (e) {
      e.classList.remove("selected");
    });
    from.classList.add("selected");
    opener = from;
    panel.hidden = false;
    var heading = body.querySelector("h2");
    if (heading) { heading.focus(); }
  }

  function hide() {
    panel.hidden = true;
    if (opener) { opener.focus(); }
  }

  Array.prototype.forEach.call(document.querySelectorAll("#diagram g.node, #diagram g.edge"), function (g) {
    var template = templates[g.id];
    if (!template) { return; }
    g.setAttribute("tabindex", "0");
    // a button named by the words drawn in it (what a sighted reader sees), opening the panel
    g.setAttribute("role", "button");
    g.setAttribute("aria-controls", "panel");
    g.addEventListener("click", function (event) { event.preventDefault(); show(g.id, g); });
    g.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); show(g.id, g); }
    });
  });
  document.getElementById("panel-close").addEventListener("click", hide);
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hidden) { hide(); }
  });
})();
