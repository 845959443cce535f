/* The procedure page's diagram: bpmn-js's NavigatedViewer draws the version's BPMN (fetched from the
   console, same origin), and each task gets the numbers of the reporting module (the JSON block
   #step-stats, written by the server): a badge "waiting / overdue" above, "completed late / completed"
   below, the shape coloured by the breach rate's level; a click lists the step's overdue cases.
   The same numbers are in the table under the diagram, for the keyboard and screen readers.
   No inline script (CSP): this file only. Keep the bpmn.io watermark visible (licence). */
(function () {
  'use strict';

  function ready(fn) {
    if (document.readyState === 'loading') {
      document.addEventListener('DOMContentLoaded', fn);
    } else {
      fn();
    }
  }

  function readStats() {
    var node = document.getElementById('step-stats');
    if (!node) { return { steps: [], labels: {} }; }
    try {
      var data = JSON.parse(node.textContent || '{}');
      return { steps: data.steps || [], labels: data.labels || {} };
    } catch (e) {
      return { steps: [], labels: {} };
    }
  }

  function say(holder, text) {
    holder.textContent = '';
    var p = document.createElement('p');
    p.className = 'diagram-message notice';
    p.setAttribute('role', 'status');
    p.textContent = text;
    holder.appendChild(p);
  }

  function span(className, text) {
    var s = document.createElement('span');
    s.className = className;
    s.textContent = String(text);
    return s;
  }

  /* One badge: a link to the step's overdue cases, its numbers as text, its meaning in the label. */
  function badge(step, kind, labels) {
    var a = document.createElement('a');
    a.href = step.url;
    a.className = 'step-badge ' + kind + ' level-' + step.level;
    var label;
    if (kind === 'open') {
      a.appendChild(span('waiting', step.waiting));
      a.appendChild(span('sep', '/'));
      a.appendChild(span('overdue', step.overdue));
      label = step.waiting + ' ' + labels.waiting + ' / ' + step.overdue + ' ' + labels.overdue;
    } else {
      a.appendChild(span('late', step.completed_late));
      a.appendChild(span('sep', '/'));
      a.appendChild(span('done', step.completed));
      label = step.completed_late + ' / ' + step.completed + ' ' + labels.late;
    }
    a.title = label;
    a.setAttribute('aria-label', (labels.open || '') + ' ' + step.name + ': ' + label);
    return a;
  }

  function decorate(viewer, stats) {
    var registry = viewer.get('elementRegistry');
    var overlays = viewer.get('overlays');
    var canvas = viewer.get('canvas');
    var byId = {};
    stats.steps.forEach(function (step) {
      var element = registry.get(step.step);
      if (!element) { return; }
      byId[step.step] = step;
      canvas.addMarker(step.step, 'step-has-stats');
      canvas.addMarker(step.step, 'step-level-' + step.level);
      overlays.add(step.step, 'step-stats', { position: { top: -12, left: -6 }, html: badge(step, 'open', stats.labels) });
      overlays.add(step.step, 'step-stats', { position: { bottom: 10, left: -6 }, html: badge(step, 'completed', stats.labels) });
    });
    viewer.get('eventBus').on('element.click', function (event) {
      var step = byId[event.element.id];
      if (step && step.url) { window.location.assign(step.url); }
    });
  }

  ready(function () {
    var holder = document.getElementById('diagram');
    if (!holder) { return; }
    var stats = readStats();
    var failed = stats.labels.failed || 'The diagram could not be shown.';
    if (typeof window.BpmnJS !== 'function' || typeof window.fetch !== 'function') {
      say(holder, failed);
      return;
    }
    var viewer = new window.BpmnJS({ container: holder });
    window.fetch(holder.getAttribute('data-bpmn-url'), { credentials: 'same-origin', headers: { Accept: 'application/xml' } })
      .then(function (answer) {
        if (!answer.ok) { throw new Error('HTTP ' + answer.status); }
        return answer.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        viewer.get('canvas').zoom('fit-viewport', 'auto');
        decorate(viewer, stats);
        holder.setAttribute('data-ready', 'true');
      })
      .catch(function () {
        viewer.destroy();
        say(holder, failed);
        holder.setAttribute('data-ready', 'failed');
      });
  });
}());
