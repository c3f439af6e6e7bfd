// The live tail: follows the server-sent events of /console/tail/stream and adds a row per event.
(function () {
  "use strict";
  var status = document.getElementById("tail-status");
  var body = document.querySelector("#tail tbody");
  if (!status || !body) { return; }
  var shown = 0;
  var source = new EventSource(status.getAttribute("data-stream"));
  function cell(row, text, code) {
    var td = document.createElement("td");
    if (code) { var c = document.createElement("code"); c.textContent = text; td.appendChild(c); } else { td.textContent = text; }
    row.appendChild(td);
    return td;
  }
  source.onopen = function () { status.textContent = "Following: new events appear at the top."; status.setAttribute("data-state", "open"); };
  source.onerror = function () { status.textContent = "Disconnected; reconnecting…"; status.setAttribute("data-state", "error"); };
  source.onmessage = function (message) {
    var item = JSON.parse(message.data);
    var event = item.event || {};
    var row = document.createElement("tr");
    row.className = "fresh";
    row.setAttribute("data-event-id", event.id || "");
    cell(row, String(item.seq));
    cell(row, item.bus);
    cell(row, event.time || "");
    cell(row, event.source || "");
    cell(row, event["detail-type"] || "");
    var details = document.createElement("details");
    var summary = document.createElement("summary");
    summary.textContent = event.id || "event";
    var pre = document.createElement("pre");
    pre.className = "json";
    pre.textContent = JSON.stringify(event, null, 2);
    details.appendChild(summary);
    details.appendChild(pre);
    cell(row, "").appendChild(details);
    body.insertBefore(row, body.firstChild);
    shown += 1;
    while (body.rows.length > 500) { body.deleteRow(body.rows.length - 1); }
    status.textContent = "Following: " + shown + " events so far, newest at the top.";
  };
}());
