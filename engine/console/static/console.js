// eiso console: small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // Keep a form's text in this tab (sessionStorage) while it is being written, so a session that
  // expired on submit does not lose it: after signing in again, the page restores the fields.
  // A page that saved the form (data-saved="FORM_KEY" on <body>) clears its copy.
  function key(form) { return "eiso-form:" + location.pathname + ":" + form.getAttribute("data-keep"); }
  var saved = document.body.getAttribute("data-saved");
  if (saved) {
    saved.split(" ").forEach(function (k) {
      try { sessionStorage.removeItem("eiso-form:" + location.pathname + ":" + k); } catch (e) { /* private mode */ }
    });
  }
  document.querySelectorAll("form[data-keep]").forEach(function (form) {
    if (form.getAttribute("data-keep").indexOf("signin") === 0) { return; }
    var k = key(form);
    var stored = null;
    try { stored = JSON.parse(sessionStorage.getItem(k) || "null"); } catch (e) { stored = null; }
    if (stored && !document.body.hasAttribute("data-has-errors")) {
      Object.keys(stored).forEach(function (name) {
        var field = form.elements.namedItem(name);
        if (field && field.type !== "hidden" && field.type !== "password" && !field.value) { field.value = stored[name]; }
      });
    }
    var save = function () {
      var values = {};
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && el.type !== "hidden" && el.type !== "password" && el.type !== "file") { values[el.name] = el.value; }
      });
      try { sessionStorage.setItem(k, JSON.stringify(values)); } catch (e) { /* quota or private mode */ }
    };
    form.addEventListener("input", save);
    form.addEventListener("submit", save);
  });
  // Print buttons (no inline handlers: the CSP allows scripts from this origin only).
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
})();
