// eiso console: the procedure modeller (bpmn-js Modeler) with its "ISO step" panel.
//
// The properties eiso reads (docs: the product contract) are camunda:properties / camunda:property
// extension elements: procedureCode and statutoryLimit on the process; deadline, unit and counted on
// each task. SpiffArena's spiffworkflow:properties are read and edited in place the same way.
//
// No moddle descriptor is registered for the camunda namespace on purpose: bpmn-moddle then keeps
// every camunda element as a generic element ($children, attributes as properties) and writes it back
// as it came. A partial descriptor (only Properties and Property, from camunda-bpmn-moddle) would make
// every other camunda element of a file (camunda:inputOutput, camunda:formData, ...) "unknown" and
// silently drop it on save; generic elements round-trip all of them, so files still open in Camunda
// Modeler unchanged. Every change goes through modeling.updateProperties / updateModdleProperties
// with new objects (never a mutation in place), so undo and redo work.
//
// Nothing here evaluates a condition: the server checks it with the engine's own language.
(function () {
  "use strict";

  var CAMUNDA = "http://camunda.org/schema/1.0/bpmn";
  var SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core";
  var PROPERTY_NAMESPACES = [CAMUNDA, SPIFF];

  var root = document.getElementById("modeller");
  var dataBlock = document.getElementById("modeller-data");
  if (!root || !dataBlock) { return; }
  var data = JSON.parse(dataBlock.textContent);
  var messages = data.messages || {};
  var csrf = root.getAttribute("data-csrf") || "";
  var statusBox = document.getElementById("modeller-status");

  function t(key, values) {
    var text = messages[key] || key;
    if (values) {
      Object.keys(values).forEach(function (name) {
        text = text.split("{" + name + "}").join(String(values[name]));
      });
    }
    return text;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function setStatus(text, kind) {
    statusBox.textContent = "";
    if (!text) { statusBox.className = "modeller-status"; return; }
    statusBox.className = "modeller-status " + (kind || "notice");
    statusBox.appendChild(el("span", null, text));
  }

  if (typeof window.BpmnJS === "undefined") {
    setStatus(t("modeller.import_failed", { reason: "bpmn-js" }), "problem");
    return;
  }

  var modeler = new window.BpmnJS({ container: document.getElementById("canvas") });
  var modeling = modeler.get("modeling");
  var moddle = modeler.get("moddle");
  var canvas = modeler.get("canvas");
  var registry = modeler.get("elementRegistry");
  var selection = modeler.get("selection");
  var overlays = modeler.get("overlays");
  var eventBus = modeler.get("eventBus");
  var commandStack = modeler.get("commandStack");

  // ---- the properties eiso reads -------------------------------------------------------------------

  function nsOf(element) {
    var descriptor = element && element.$descriptor;
    return descriptor && descriptor.ns ? descriptor.ns : null;
  }

  function isExtension(element, local) {
    var ns = nsOf(element);
    return !!ns && PROPERTY_NAMESPACES.indexOf(ns.uri) >= 0 && ns.localName === local;
  }

  function extensionValues(bo) {
    var ext = bo.extensionElements;
    return ext && ext.values ? ext.values : [];
  }

  function propertyName(item) { return String(item.name === undefined || item.name === null ? "" : item.name).trim(); }

  function propertyValue(item) {
    var value = item.value;
    if (value === undefined || value === null) { value = item.$body; }
    return String(value === undefined || value === null ? "" : value).trim();
  }

  // name -> value of the element's own properties (the first of a name wins, as shown)
  function readProperties(bo) {
    var found = {};
    extensionValues(bo).forEach(function (container) {
      if (!isExtension(container, "properties")) { return; }
      (container.$children || []).forEach(function (item) {
        if (!isExtension(item, "property")) { return; }
        var name = propertyName(item);
        if (name && !Object.prototype.hasOwnProperty.call(found, name)) { found[name] = propertyValue(item); }
      });
    });
    return found;
  }

  function makeAny(ns, local, attrs) {
    return moddle.createAny(ns.prefix + ":" + local, ns.uri, attrs);
  }

  function copyContainer(container, children) {
    var ns = nsOf(container);
    var attrs = {};
    Object.keys(container).forEach(function (key) {
      if (key.charAt(0) !== "$") { attrs[key] = container[key]; }
    });
    attrs.$children = children;
    return makeAny(ns, "properties", attrs);
  }

  // Set (value a string) or remove (value null) properties of ``bo``: one command, undoable.
  // The first properties container of the element is kept and edited; a name is removed from any
  // other container, so the engine never reads two values for one name.
  function writeProperties(shape, bo, changes) {
    var values = extensionValues(bo);
    var containers = values.filter(function (v) { return isExtension(v, "properties"); });
    var first = containers[0] || null;
    var names = Object.keys(changes);
    var changed = false;
    var newValues = [];
    values.forEach(function (value) {
      if (!isExtension(value, "properties")) { newValues.push(value); return; }
      var ns = nsOf(value);
      var children = [];
      var placed = {};
      (value.$children || []).forEach(function (item) {
        var name = isExtension(item, "property") ? propertyName(item) : null;
        if (name === null || names.indexOf(name) < 0) { children.push(item); return; }
        var wanted = changes[name];
        if (value === first && wanted !== null && !placed[name]) {
          placed[name] = true;
          if (propertyValue(item) === wanted && item.value !== undefined) { children.push(item); return; }
          children.push(makeAny(ns, "property", { name: name, value: wanted }));
        }
        changed = true;
      });
      if (value === first) {
        names.forEach(function (name) {
          if (changes[name] !== null && !placed[name]) {
            children.push(makeAny(ns, "property", { name: name, value: changes[name] }));
            changed = true;
          }
        });
      }
      if (children.length) { newValues.push(copyContainer(value, children)); } else { changed = true; }
    });
    if (!first) {
      var fresh = names.filter(function (name) { return changes[name] !== null; }).map(function (name) {
        return makeAny({ prefix: "camunda", uri: CAMUNDA }, "property", { name: name, value: changes[name] });
      });
      if (fresh.length) {
        newValues.push(makeAny({ prefix: "camunda", uri: CAMUNDA }, "properties", { $children: fresh }));
        changed = true;
      }
    }
    if (!changed) { return; }
    var ext;
    if (newValues.length) {
      ext = moddle.create("bpmn:ExtensionElements", { values: newValues });
      ext.$parent = bo;
      newValues.forEach(function (value) { value.$parent = ext; });
    }
    modeling.updateModdleProperties(shape, bo, { extensionElements: ext });
  }

  // ---- what the panel edits --------------------------------------------------------------------------

  function isA(bo, type) { return !!bo && typeof bo.$instanceOf === "function" && bo.$instanceOf(type); }

  // The executable process and the diagram element that carries it (the root, or its pool).
  function processTarget() {
    var rootElement = canvas.getRootElement();
    var bo = rootElement && rootElement.businessObject;
    if (isA(bo, "bpmn:Process")) { return { shape: rootElement, bo: bo }; }
    if (isA(bo, "bpmn:Collaboration")) {
      var pools = (bo.participants || []).filter(function (p) { return p.processRef; });
      var pool = pools.filter(function (p) { return p.processRef.isExecutable; })[0] || pools[0];
      if (pool) { return { shape: registry.get(pool.id) || rootElement, bo: pool.processRef }; }
    }
    return null;
  }

  function conditional(flowBo) {
    var source = flowBo.sourceRef;
    return isA(source, "bpmn:ExclusiveGateway") || isA(source, "bpmn:InclusiveGateway");
  }

  var panels = {
    process: document.getElementById("panel-process"),
    task: document.getElementById("panel-task"),
    flow: document.getElementById("panel-flow")
  };
  var panelTarget = document.getElementById("panel-target");
  var current = null; // { kind, shape, bo }

  function targetOf(element) {
    if (!element || element === canvas.getRootElement()) {
      var process = processTarget();
      return process ? { kind: "process", shape: process.shape, bo: process.bo } : null;
    }
    var bo = element.businessObject;
    if (isA(bo, "bpmn:Participant") && bo.processRef) {
      return { kind: "process", shape: element, bo: bo.processRef };
    }
    if (isA(bo, "bpmn:Task")) { return { kind: "task", shape: element, bo: bo }; }
    if (isA(bo, "bpmn:SequenceFlow") && conditional(bo)) { return { kind: "flow", shape: element, bo: bo }; }
    var key = isA(bo, "bpmn:Gateway") ? "modeller.panel.gateway"
      : isA(bo, "bpmn:SequenceFlow") ? "modeller.panel.flow_plain" : "modeller.panel.other";
    return { kind: "other", shape: element, bo: bo, message: t(key, { id: bo ? bo.id : element.id }) };
  }

  function fields(form) { return Array.prototype.slice.call(form.querySelectorAll("input, textarea")); }

  function conditionText(bo) {
    var expression = bo.conditionExpression;
    return expression && expression.body !== undefined && expression.body !== null ? String(expression.body) : "";
  }

  function fill(target) {
    Object.keys(panels).forEach(function (kind) { panels[kind].hidden = !target || target.kind !== kind; });
    if (!target) { panelTarget.textContent = ""; return; }
    if (target.kind === "other") { panelTarget.textContent = target.message; return; }
    var key = target.kind === "process" ? "modeller.panel.process"
      : target.kind === "task" ? "modeller.panel.task" : "modeller.panel.flow";
    panelTarget.textContent = t(key, { id: target.bo.id });
    var props = readProperties(target.bo);
    fields(panels[target.kind]).forEach(function (input) {
      if (input.hasAttribute("data-attr")) {
        input.value = target.bo.get(input.getAttribute("data-attr")) || "";
      } else if (input.getAttribute("data-prop") === "counted") {
        input.checked = String(props.counted || "").toLowerCase() !== "false";
      } else if (input.hasAttribute("data-prop")) {
        input.value = props[input.getAttribute("data-prop")] || "";
      } else if (input.hasAttribute("data-condition")) {
        input.value = conditionText(target.bo);
      } else if (input.hasAttribute("data-default")) {
        var source = target.bo.sourceRef;
        input.checked = !!source && source.default === target.bo;
      }
      input.setAttribute("data-shown", input.type === "checkbox" ? String(input.checked) : input.value);
    });
    fields(panels[target.kind]).forEach(function (input) { check(input, false); });
  }

  function show(element) {
    current = targetOf(element);
    fill(current);
  }

  // Apply one field of the panel to the model (a no-op when it shows what the model holds).
  function apply(input) {
    if (!current || current.kind === "other") { return; }
    var shown = input.type === "checkbox" ? String(input.checked) : input.value;
    if (input.getAttribute("data-shown") === shown) { return; }
    input.setAttribute("data-shown", shown);
    var shape = current.shape;
    var bo = current.bo;
    var changes = {};
    if (input.hasAttribute("data-attr")) {
      var name = input.value.trim() ? input.value : undefined;
      if (current.kind === "process") { modeling.updateModdleProperties(shape, bo, { name: name }); }
      else { modeling.updateLabel(shape, name === undefined ? null : name); }
    } else if (input.getAttribute("data-prop") === "counted") {
      changes.counted = input.checked ? null : "false";
      writeProperties(shape, bo, changes);
    } else if (input.hasAttribute("data-prop")) {
      changes[input.getAttribute("data-prop")] = input.value.trim() ? input.value.trim() : null;
      writeProperties(shape, bo, changes);
    } else if (input.hasAttribute("data-condition")) {
      var text = input.value;
      var expression;
      if (text.trim()) {
        var old = bo.conditionExpression;
        var attrsOf = { body: text };
        if (old && old.language) { attrsOf.language = old.language; }
        expression = moddle.create("bpmn:FormalExpression", attrsOf);
      }
      modeling.updateProperties(shape, { conditionExpression: expression });
    } else if (input.hasAttribute("data-default")) {
      var gateway = registry.get(bo.sourceRef.id);
      if (gateway) { modeling.updateProperties(gateway, { "default": input.checked ? bo : undefined }); }
    }
  }

  // Everything the panel shows goes into the model before the diagram is saved.
  function flushPanel() {
    if (!current) { return; }
    var form = panels[current.kind];
    if (form) { fields(form).forEach(apply); }
  }

  // ---- checks as you type (the server's own rules) ------------------------------------------------

  var checkTimers = {};

  function checkBox(input) {
    var id = (input.getAttribute("aria-describedby") || "").split(" ")[0];
    var box = id ? document.getElementById(id) : null;
    return box && box.classList.contains("check") ? box : null;
  }

  function showCheck(box, input, valid, message) {
    box.textContent = message || "";
    box.className = "check " + (valid ? "ok" : "bad");
    if (valid) { input.removeAttribute("aria-invalid"); } else { input.setAttribute("aria-invalid", "true"); }
  }

  function check(input, typed) {
    var box = checkBox(input);
    if (!box) { return; }
    var kind = input.hasAttribute("data-condition") ? "condition" : input.getAttribute("data-check");
    if (!kind) { return; }
    clearTimeout(checkTimers[input.id]);
    var text = input.value;
    if (!text.trim()) {
      var needed = input.id === "p-deadline" && document.getElementById("p-counted").checked;
      if (needed || input.id === "p-statutory-limit") {
        showCheck(box, input, false, t(needed ? "modeller.check.deadline_needed" : "modeller.check.empty"));
      } else {
        box.textContent = "";
        box.className = "check";
        input.removeAttribute("aria-invalid");
      }
      return;
    }
    checkTimers[input.id] = setTimeout(function () {
      var body = {};
      body[kind] = text;
      post(data.urls[kind], body).then(function (answer) {
        if (input.value !== text) { return; } // typed on meanwhile: a newer check follows
        if (answer.status === 200) { showCheck(box, input, answer.body.valid, answer.body.message); }
        else { showCheck(box, input, false, answer.body.message); }
      });
    }, typed ? 300 : 0);
  }

  Object.keys(panels).forEach(function (kind) {
    var form = panels[kind];
    form.addEventListener("submit", function (event) { event.preventDefault(); flushPanel(); });
    fields(form).forEach(function (input) {
      var timer = null;
      input.addEventListener("input", function () {
        check(input, true);
        clearTimeout(timer);
        timer = setTimeout(function () { apply(input); }, 500);
      });
      input.addEventListener("change", function () {
        clearTimeout(timer);
        apply(input);
        if (input.id === "p-counted") { check(document.getElementById("p-deadline"), false); }
      });
    });
  });

  // ---- talking to the server ----------------------------------------------------------------------

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      var type = response.headers.get("content-type") || "";
      var parsed = type.indexOf("application/json") >= 0 ? response.json() : Promise.resolve(null);
      return parsed.then(function (json) {
        json = json || {};
        if (!json.message && response.status === 413) { json.message = t("modeller.too_large_plain"); }
        if (!json.message && response.status >= 400) {
          json.message = json.detail && typeof json.detail === "string" ? json.detail
            : t("modeller.failed", { status: response.status });
        }
        if (response.status === 401) { sessionExpired(); }
        return { status: response.status, body: json };
      }, function () {
        return { status: response.status, body: { message: t("modeller.failed", { status: response.status }) } };
      });
    }, function () {
      return { status: 0, body: { message: t("modeller.network") } };
    });
  }

  function sessionExpired() {
    saveDraft(true);
    statusBox.textContent = "";
    statusBox.className = "modeller-status problem";
    statusBox.appendChild(el("span", null, t("modeller.session_expired") + " "));
    var link = el("a", null, t("modeller.signin"));
    link.href = data.urls.signin;
    statusBox.appendChild(link);
  }

  function currentXml() {
    flushPanel();
    return modeler.saveXML({ format: true }).then(function (result) { return result.xml; });
  }

  // ---- problems on the diagram and in the list ------------------------------------------------------

  var problemsSection = document.getElementById("problems");
  var problemsSummary = document.getElementById("problems-summary");
  var problemList = document.getElementById("problem-list");
  var marked = [];

  function clearProblems() {
    overlays.remove({ type: "eiso-problem" });
    marked.forEach(function (id) {
      if (registry.get(id)) {
        canvas.removeMarker(id, "eiso-problem");
        canvas.removeMarker(id, "eiso-warning");
      }
    });
    marked = [];
    problemList.textContent = "";
    problemsSummary.textContent = "";
  }

  // The diagram element a problem names: the element itself, else the pool of a process.
  function elementFor(id) {
    if (!id) { return null; }
    var found = registry.get(id);
    if (found) { return found; }
    var pools = registry.filter(function (e) {
      return isA(e.businessObject, "bpmn:Participant") && e.businessObject.processRef &&
        e.businessObject.processRef.id === id;
    });
    return pools[0] || null;
  }

  function focusElement(element) {
    if (element !== canvas.getRootElement()) {
      try { canvas.scrollToElement(element); } catch (e) { /* not scrollable: already shown */ }
      selection.select(element);
    } else {
      selection.select(null);
      show(null);
    }
    document.getElementById("iso-panel").scrollIntoView({ block: "nearest" });
  }

  function showProblems(problems) {
    clearProblems();
    problemsSection.hidden = false;
    var errors = problems.filter(function (p) { return p.severity === "error"; }).length;
    problemsSummary.textContent = problems.length
      ? t("modeller.problems.count", { errors: errors, warnings: problems.length - errors })
      : t("modeller.problems.none");
    problemsSummary.className = errors ? "problem" : problems.length ? "notice" : "success";
    var badges = {};
    problems.forEach(function (problem) {
      var element = elementFor(problem.element_id);
      var item = el("li", problem.severity === "error" ? "is-error" : "is-warning");
      item.appendChild(el("span", "badge " + (problem.severity === "error" ? "bad" : "warn"),
        t(problem.severity === "error" ? "modeller.problems.error" : "modeller.problems.warning")));
      item.appendChild(document.createTextNode(" "));
      if (element) {
        var button = el("button", "link", problem.element_id);
        button.type = "button";
        button.setAttribute("aria-label", t("modeller.problems.show", { id: problem.element_id }));
        button.addEventListener("click", function () { focusElement(element); });
        item.appendChild(button);
      } else {
        item.appendChild(el("span", "muted", problem.element_id || t("modeller.problems.file")));
      }
      item.appendChild(document.createTextNode(": "));
      item.appendChild(el("span", "message", problem.message));
      problemList.appendChild(item);
      if (!element || element === canvas.getRootElement()) { return; }
      var marker = problem.severity === "error" ? "eiso-problem" : "eiso-warning";
      canvas.addMarker(element.id, marker);
      if (marked.indexOf(element.id) < 0) { marked.push(element.id); }
      badges[element.id] = (badges[element.id] || 0) + 1;
      if (badges[element.id] > 2) { return; } // the list has them all; keep the diagram readable
      var text = problem.message.length > 90 ? problem.message.slice(0, 87) + "…" : problem.message;
      var badge = el("div", "eiso-problem-badge " + marker, text);
      badge.title = problem.message;
      overlays.add(element.id, "eiso-problem", {
        position: { bottom: -6 + (badges[element.id] - 1) * -34, left: 0 },
        html: badge
      });
    });
  }

  // ---- the buttons ----------------------------------------------------------------------------------

  var validateButton = document.getElementById("do-validate");
  var deployButton = document.getElementById("do-deploy");

  function busy(button, on) {
    button.disabled = on;
    if (on) { button.setAttribute("aria-busy", "true"); } else { button.removeAttribute("aria-busy"); }
  }

  validateButton.addEventListener("click", function () {
    busy(validateButton, true);
    setStatus(t("modeller.working"));
    currentXml().then(function (xml) {
      return post(data.urls.validate, { xml: xml, filename: fileName() });
    }).then(function (answer) {
      if (answer.status === 200) {
        setStatus("");
        showProblems(answer.body.problems || []);
        document.getElementById("problems-title").focus();
      } else if (answer.status !== 401) {
        setStatus(answer.body.message, "problem");
      }
    }, function (err) {
      setStatus(t("modeller.import_failed", { reason: err && err.message ? err.message : err }), "problem");
    }).then(function () { busy(validateButton, false); });
  });

  var deployResult = document.getElementById("deploy-result");

  function showDeployment(answer, xml) {
    deployResult.textContent = "";
    var body = answer.body || {};
    var box = el("div", answer.status === 201 ? "success" : answer.status === 200 ? "notice" : "problem");
    box.appendChild(el("p", null, body.message || t("modeller.failed", { status: answer.status })));
    if (answer.status === 201 && body.parked_events_applied) {
      box.appendChild(el("p", null, t("modeller.deploy.parked", { count: body.parked_events_applied })));
    }
    if ((answer.status === 200 || answer.status === 201) && body.open_url) {
      var link = el("a", null, t("modeller.deploy.open", { version: body.version }));
      link.href = body.open_url;
      box.appendChild(el("p")).appendChild(link);
    }
    deployResult.appendChild(box);
    if (answer.status === 201 || answer.status === 200) {
      showProblems(body.warnings || []);
      if (body.created) {
        data.opened = { code: body.code, version: body.version, scope: body.scope };
        forgetDraft();
        loadedXml = xml;
        try { history.replaceState(null, "", body.open_url); } catch (e) { /* old browser */ }
        draftKey = "eiso-modeller:" + location.pathname + location.search;
      }
    } else if (body.problems) {
      showProblems(body.problems);
    }
  }

  document.getElementById("deploy-form").addEventListener("submit", function (event) {
    event.preventDefault();
    busy(deployButton, true);
    deployResult.textContent = "";
    deployResult.appendChild(el("p", "notice", t("modeller.deploy.working")));
    var agencies = document.getElementById("f-agencies").value;
    var sent = null;
    currentXml().then(function (xml) {
      sent = xml;
      return post(data.urls.deploy, { xml: xml, agencies: agencies, filename: fileName() });
    }).then(function (answer) {
      if (answer.status === 401) { deployResult.textContent = ""; return; }
      showDeployment(answer, sent);
    }, function (err) {
      deployResult.textContent = "";
      setStatus(t("modeller.import_failed", { reason: err && err.message ? err.message : err }), "problem");
    }).then(function () { busy(deployButton, false); });
  });

  function procedureCode() {
    var process = processTarget();
    return process ? readProperties(process.bo).procedureCode || "" : "";
  }

  function fileName() {
    var code = procedureCode().replace(/[^0-9A-Za-z._-]+/g, "_").replace(/^[._]+/, "");
    return (code || "procedure") + ".bpmn";
  }

  document.getElementById("do-download").addEventListener("click", function () {
    currentXml().then(function (xml) {
      var blob = new Blob([xml], { type: "application/xml" });
      var url = URL.createObjectURL(blob);
      var link = document.createElement("a");
      link.href = url;
      link.download = fileName();
      document.body.appendChild(link);
      link.click();
      document.body.removeChild(link);
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    });
  });

  document.getElementById("do-undo").addEventListener("click", function () { commandStack.undo(); });
  document.getElementById("do-redo").addEventListener("click", function () { commandStack.redo(); });
  document.getElementById("do-fit").addEventListener("click", fit);

  function fit() {
    canvas.zoom("fit-viewport", "auto");
    if (canvas.zoom() > 1) { canvas.zoom(1, "auto"); }
  }

  // ---- the diagram's events -------------------------------------------------------------------------

  eventBus.on("selection.changed", function (event) {
    var chosen = event.newSelection || [];
    show(chosen.length === 1 ? chosen[0] : null);
  });

  eventBus.on("commandStack.changed", function () {
    scheduleDraft();
    // Undo, redo or the canvas changed the model: show it again, unless the user is typing in the panel.
    var panel = document.getElementById("iso-panel");
    if (current && panel.contains(document.activeElement)) { return; }
    if (current && current.shape && current.kind !== "process" && !registry.get(current.shape.id)) {
      show(null);
      return;
    }
    if (current) { fill(targetOf(current.kind === "process" ? null : current.shape)); }
  });

  // ---- the drawing kept in this tab (an expired session must not lose it) ------------------------

  var draftKey = "eiso-modeller:" + location.pathname + location.search;
  var draftTimer = null;
  var loadedXml = data.xml;

  function saveDraft(now) {
    clearTimeout(draftTimer);
    var save = function () {
      modeler.saveXML({ format: true }).then(function (result) {
        try {
          if (result.xml === loadedXml) { sessionStorage.removeItem(draftKey); }
          else { sessionStorage.setItem(draftKey, result.xml); }
        } catch (e) { /* quota or private mode */ }
      });
    };
    if (now) { save(); } else { draftTimer = setTimeout(save, 800); }
  }

  function scheduleDraft() { saveDraft(false); }

  function forgetDraft() {
    clearTimeout(draftTimer);
    try { sessionStorage.removeItem(draftKey); } catch (e) { /* private mode */ }
  }

  function offerDraft() {
    var draft = null;
    try { draft = sessionStorage.getItem(draftKey); } catch (e) { draft = null; }
    if (!draft || draft === loadedXml) { return; }
    var box = document.getElementById("draft");
    box.hidden = false;
    document.getElementById("draft-restore").addEventListener("click", function () {
      box.hidden = true;
      open(draft);
    });
    document.getElementById("draft-discard").addEventListener("click", function () {
      box.hidden = true;
      forgetDraft();
    });
  }

  // ---- open the diagram --------------------------------------------------------------------------------

  function open(xml) {
    return modeler.importXML(xml).then(function (result) {
      clearProblems();
      problemsSection.hidden = true;
      fit();
      var warnings = (result && result.warnings) || [];
      if (warnings.length) {
        setStatus(t("modeller.import_warnings", { count: warnings.length }) + " " +
          warnings.slice(0, 5).map(function (w) { return String(w.message).split("\n")[0]; }).join("; "),
          "notice");
      } else {
        setStatus("");
      }
      show(null);
      root.setAttribute("data-ready", "true");
    }, function (err) {
      setStatus(t("modeller.import_failed", { reason: err && err.message ? err.message : String(err) }), "problem");
      root.setAttribute("data-ready", "failed");
    });
  }

  open(data.xml).then(offerDraft);

  // For tests and the curious: the modeler of this page.
  root.eisoModeler = modeler;
})();
