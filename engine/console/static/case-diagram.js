// The case page: the procedure version's diagram in bpmn-js's NavigatedViewer, with each step the case
// went through marked (done, late, active, overdue, skipped). The data comes in the JSON block #case-path:
// {"xml": URL of the version's BPMN for this case, "markers": {element id: mark}}.
(function () {
  "use strict";
  var data = document.getElementById("case-path");
  var container = document.getElementById("case-diagram");
  var status = document.getElementById("case-diagram-status");
  if (!data || !container) { return; }
  function say(text) { if (status) { status.textContent = text || ""; } }
  function failed() {
    container.setAttribute("data-state", "failed");
    say(container.getAttribute("data-failed"));
  }
  var path;
  try { path = JSON.parse(data.textContent); } catch (e) { failed(); return; }
  if (typeof window.BpmnJS !== "function") { failed(); return; }
  var viewer = new window.BpmnJS({ container: container });
  container.setAttribute("data-state", "loading");
  fetch(path.xml, { credentials: "same-origin", headers: { "Accept": "application/xml" } })
    .then(function (answer) {
      if (!answer.ok) { throw new Error("HTTP " + answer.status); }
      return answer.text();
    })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      canvas.zoom("fit-viewport", "auto");
      var marked = [];
      Object.keys(path.markers || {}).forEach(function (id) {
        var element = registry.get(id);
        if (!element) { return; }
        canvas.addMarker(id, "case-" + path.markers[id]);
        marked.push(id + ":" + path.markers[id]);
      });
      container.setAttribute("data-marked", marked.join(" "));
      container.setAttribute("data-state", "ready");
      say("");
    })
    .catch(failed);
})();
