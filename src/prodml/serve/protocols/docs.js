"use strict";
// The server's OpenAPI document, to read and to try: every route with its parameters,
// an example body the served model answers, and a Send button. Text from the document
// (field names, categories seen in training) only ever goes in as text, never as HTML.
(function () {
  var KEY = "prodml-docs-key";
  var keyInput = document.getElementById("key");
  keyInput.value = sessionStorage.getItem(KEY) || "";
  keyInput.addEventListener("input", function () {
    sessionStorage.setItem(KEY, keyInput.value);
  });

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (name === "text") node.textContent = attributes[name];
      else node.setAttribute(name, attributes[name]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function shown(value) {
    return typeof value === "string" ? value : JSON.stringify(value, null, 2);
  }

  fetch("openapi.json")
    .then(function (answer) {
      if (!answer.ok) throw new Error("openapi.json answered " + answer.status);
      return answer.json();
    })
    .then(render)
    .catch(function (error) {
      document.getElementById("about").textContent = "Cannot read openapi.json: " + error.message;
    });

  function render(doc) {
    document.getElementById("title").textContent = doc.info.title + " " + doc.info.version;
    var about = document.getElementById("about");
    about.textContent = doc.info.description + " The document itself: ";
    about.appendChild(el("a", { href: "openapi.json", text: "openapi.json" }));
    record(doc.components.schemas.Record);
    var groups = {};
    Object.keys(doc.paths).forEach(function (path) {
      Object.keys(doc.paths[path]).forEach(function (method) {
        var op = doc.paths[path][method];
        var tag = (op.tags || ["other"])[0];
        (groups[tag] = groups[tag] || []).push(operation(path, method, op));
      });
    });
    var root = document.getElementById("operations");
    (doc.tags || []).forEach(function (tag) {
      if (!groups[tag.name]) return;
      root.appendChild(el("h2", { text: tag.name }));
      groups[tag.name].forEach(function (node) { root.appendChild(node); });
    });
  }

  function record(schema) {
    if (!schema || !schema.properties) return;
    document.getElementById("record").hidden = false;
    document.getElementById("record-about").textContent = schema.description || "";
    var required = schema.required || [];
    var body = document.querySelector("#fields tbody");
    Object.keys(schema.properties).forEach(function (name) {
      var field = schema.properties[name];
      var type = [].concat(field.type || []).join(" or ");
      var allowed = field.enum ? field.enum.map(shown).join(", ") : field.description || "";
      body.appendChild(el("tr", {}, [
        el("td", { text: name }),
        el("td", { text: type + (field.format ? " (" + field.format + ")" : "") }),
        el("td", { text: required.indexOf(name) >= 0 ? "yes" : "no" }),
        el("td", { text: allowed }),
      ]));
    });
  }

  function operation(path, method, op) {
    var needs = op.security ? (op.security.some(function (s) { return !s.key; })
      ? "needs a key once one exists" : "needs a key") : "";
    var summary = el("summary", {}, [
      el("span", { class: "method " + method, text: method.toUpperCase() }),
      el("span", { class: "path", text: path }),
      el("span", { text: op.summary || "" }),
    ].concat(needs ? [el("span", { class: "needs", text: needs })] : []));
    var form = el("div", { class: "operation" });
    var inputs = {};
    (op.parameters || []).forEach(function (parameter) {
      var input = el("input", { name: parameter.name });
      input.value = parameter.example === undefined ? "" : String(parameter.example);
      inputs[parameter.name] = input;
      form.appendChild(el("label", { text: parameter.name + " (in the path)" }, [input]));
    });
    var body = null;
    var kind = null;
    if (op.requestBody) {
      var content = op.requestBody.content;
      var kinds = Object.keys(content);
      kind = el("select", { "aria-label": "Content-Type" }, kinds.map(function (k) {
        return el("option", { value: k, text: k });
      }));
      body = el("textarea", { spellcheck: "false", "aria-label": "request body" });
      var example = function () {
        var given = content[kind.value].example;
        body.value = given === undefined ? "" : shown(given);
      };
      kind.addEventListener("change", example);
      example();
      form.appendChild(el("label", { text: "Request body" }, [kind]));
      form.appendChild(body);
    }
    var send = el("button", { type: "button", text: "Send" });
    var output = el("div", { class: "output" });
    send.addEventListener("click", function () {
      call(path, method, inputs, kind, body, output);
    });
    form.appendChild(send);
    form.appendChild(el("ul", { class: "answers" }, Object.keys(op.responses).map(function (code) {
      return el("li", { text: code + ": " + op.responses[code].description });
    })));
    form.appendChild(output);
    return el("details", { id: op.operationId }, [summary, form]);
  }

  function call(path, method, inputs, kind, body, output) {
    var url = path.replace(/{(\w+)}/g, function (_, name) {
      return encodeURIComponent(inputs[name].value);
    }).slice(1);  // relative to this page, so it works behind a path prefix too
    var headers = {};
    if (keyInput.value) headers.Authorization = "Bearer " + keyInput.value;
    var request = { method: method.toUpperCase(), headers: headers };
    if (body) {
      headers["Content-Type"] = kind.value;
      request.body = body.value;
    }
    var started = performance.now();
    output.replaceChildren(el("p", { text: "Sending..." }));
    fetch(url, request).then(function (answer) {
      return answer.text().then(function (text) {
        var elapsed = Math.round(performance.now() - started);
        var pretty = text;
        try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
        var lines = [];
        answer.headers.forEach(function (value, name) { lines.push(name + ": " + value); });
        output.replaceChildren(
          el("p", {
            class: "status " + (answer.ok ? "ok" : "refused"),
            text: answer.status + " " + answer.statusText + " in " + elapsed + " ms",
          }),
          el("pre", { class: "headers", text: lines.sort().join("\n") }),
          el("pre", { class: "body", text: pretty })
        );
      });
    }).catch(function (error) {
      output.replaceChildren(el("p", { class: "status refused", text: error.message }));
    });
  }
})();
