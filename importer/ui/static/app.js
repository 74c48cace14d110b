"use strict";
// The page's script: plain JavaScript, no build step. Every value from the server is put
// in the page as text (textContent), never as HTML.
const config = JSON.parse(document.body.dataset.config);
const $ = (selector, root = document) => root.querySelector(selector);
const state = { file: null, target: "minimo", mapping: null, current: null };
const REPORT = ["row", "email", "phone", "status", "contact_id", "error", "warning", "changes"];

function showError(text) {
  const box = $("#error");
  box.textContent = text || "";
  box.hidden = !text;
  if (text) box.scrollIntoView({ block: "nearest" });
}

async function api(method, path, body) {
  const options = { method, headers: { "X-Importer-Token": config.token } };
  if (body instanceof FormData) options.body = body;
  else if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["Content-Type"] = "application/json";
  }
  let answer;
  try {
    answer = await fetch(path, options);
  } catch (e) {
    throw new Error("The page lost contact with importer ui: is it still running? Start it again and open the link it prints.");
  }
  const data = await answer.json().catch(() => ({ error: `The server answered ${answer.status}.` }));
  if (!answer.ok) throw new Error(data.error || `The server answered ${answer.status}.`);
  return data;
}

function withToken(path) {
  return `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(config.token)}`;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

// ---- 1. the file ----------------------------------------------------------------------
async function opened(promise) {
  showError("");
  try {
    state.file = await promise;
  } catch (e) {
    showError(e.message);
    return;
  }
  const f = state.file;
  $("#file-info").textContent = `${f.description}, ${f.columns} columns${f.path ? "" : " (uploaded)"}.`;
  for (const id of ["#check-result", "#import-result", "#undo-result"]) $(id).replaceChildren();
  $("#undo").hidden = true;
  await loadMapping();
}

$("#upload-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("#upload");
  if (!input.files.length) { showError("Choose a file first, then press Read."); return; }
  const form = new FormData();
  form.append("file", input.files[0]);
  opened(api("POST", "/api/files", form));
});

$("#path-form").addEventListener("submit", (event) => {
  event.preventDefault();
  opened(api("POST", "/api/files/path", { path: $("#path").value }));
});

for (const radio of document.querySelectorAll("input[name=target]")) {
  radio.addEventListener("change", () => {
    state.target = radio.value;
    readiness();
    if (state.file) loadMapping();
  });
}

// ---- 2. the mapping -------------------------------------------------------------------
async function loadMapping() {
  try {
    showMapping(await api("GET", `/api/files/${state.file.id}/mapping?target=${state.target}`));
  } catch (e) { showError(e.message); }
}

function showMapping(m) {
  state.mapping = m;
  $("#step-mapping").hidden = false;
  $("#step-check").hidden = false;
  $("#step-import").hidden = false;
  $("#toml").value = m.toml;
  const problem = $("#mapping-error");
  problem.textContent = m.error || "";
  problem.hidden = !m.error;
  const names = $("#field-names");
  names.replaceChildren(...m.choices.fields.map((name) => { const o = el("option"); o.value = name; return o; }));
  const body = $("#columns tbody");
  body.replaceChildren(...m.lines.map((line) => columnRow(line, m.choices)));
  $("#toml-download").href = withToken(`/api/files/${state.file.id}/mapping.toml?target=${state.target}`);
  $("#toml-save").disabled = !state.file.path;
  $("#toml-saved").textContent = m.loaded ? `The mapping saved next to the file: ${m.loaded}`
    : state.file.path ? "" : "An uploaded file: download the mapping to keep it.";
  readiness();
}

function select(options, value, label) {
  const s = el("select");
  s.setAttribute("aria-label", label);
  for (const option of options) {
    const o = el("option", option === "" ? "(the field's own)" : option);
    o.value = option;
    if (option === value) o.selected = true;
    s.append(o);
  }
  return s;
}

function columnRow(line, choices) {
  const tr = el("tr");
  tr.dataset.column = line.column;
  tr.append(el("td", line.column), el("td", line.examples.join(" · "), "values"));
  const field = el("input");
  field.type = "text";
  field.value = line.field;
  field.setAttribute("list", "field-names");
  field.setAttribute("aria-label", `Field for ${line.column}`);
  field.className = "field";
  const type = select(["", ...choices.types], line.field ? line.type : "", `Type of ${line.column}`);
  const update = select(choices.updates, line.update, `Update rule of ${line.column}`);
  type.className = "type";
  update.className = "update";
  for (const input of [field, type, update]) {
    input.disabled = !line.editable;
    input.addEventListener("change", () => editColumn(line.column, field.value, type.value, update.value));
  }
  const cells = [field, type, update].map((input) => { const td = el("td"); td.append(input); return td; });
  tr.append(...cells, el("td", line.note, "note"));
  return tr;
}

async function editColumn(column, field, type, update) {
  showError("");
  try {
    showMapping(await api("POST", `/api/files/${state.file.id}/mapping/edit`,
      { target: state.target, column, field, type, update }));
  } catch (e) { showError(e.message); }
}

$("#toml-apply").addEventListener("click", async () => {
  showError("");
  try {
    showMapping(await api("POST", `/api/files/${state.file.id}/mapping`, { target: state.target, toml: $("#toml").value }));
  } catch (e) { showError(e.message); }
});

$("#toml-save").addEventListener("click", async () => {
  showError("");
  try {
    const saved = await api("POST", `/api/files/${state.file.id}/mapping/save`, { target: state.target });
    $("#toml-saved").textContent = `Saved as ${saved.saved}`;
  } catch (e) { showError(e.message); }
});

function readiness() {
  const missing = config.ready[state.target];
  for (const id of ["#predict", "#import"]) $(id).disabled = Boolean(missing);
  const why = missing ? `Needs the ${state.target} credentials: ${missing}` : "";
  $("#predict-why").textContent = why;
  $("#import-why").textContent = why;
}

// ---- 3 and 4: jobs -----------------------------------------------------------------------
async function startJob(kind, into, fresh = false) {
  showError("");
  let job;
  const body = { file: state.file.id, target: state.target, kind, fresh };
  if (kind === "undo") body.of = state.current;  // the import it takes back, with its mapping
  try {
    job = await api("POST", "/api/jobs", body);
  } catch (e) { showError(e.message); return null; }
  if (kind === "import") state.current = job.id;  // what Stop stops and Undo takes back
  const view = $("#result-template").content.firstElementChild.cloneNode(true);
  into.replaceChildren(view);
  return follow(job, view);
}

function follow(job, view) {
  return new Promise((resolve) => {
    const source = new EventSource(withToken(`/api/jobs/${job.id}/events`));
    source.onmessage = (message) => {
      const now = JSON.parse(message.data);
      render(now, view);
      if (!now.running) {
        source.close();
        resolve(now);
      }
    };
    source.onerror = () => {
      source.close();
      api("GET", `/api/jobs/${job.id}`).then((now) => { render(now, view); resolve(now); })
        .catch((e) => { showError(e.message); resolve(null); });
    };
  });
}

function render(job, view) {
  const bar = $(".progress", view);
  const p = job.progress || {};
  if (job.running) {
    bar.hidden = false;
    const meter = $("progress", bar);
    if (p.total) { meter.max = p.total; meter.value = p.done; } else { meter.removeAttribute("value"); }
    const parts = [`${p.phase || "starting"}: ${(p.done || 0).toLocaleString()}${p.total ? " of " + p.total.toLocaleString() : ""} rows`];
    if (p.rate) parts.push(`${Math.round(p.rate).toLocaleString()} rows/s`);
    parts.push(`${(p.throttled || 0).toLocaleString()} rate-limited (429)`);
    if (p.eta !== null && p.eta !== undefined) parts.push(`about ${duration(p.eta)} left`);
    if (job.stopping) parts.push("stopping…");
    $(".progress-text", bar).textContent = parts.join(", ");
  } else {
    bar.hidden = true;
  }
  $(".notes", view).replaceChildren(...job.said.map((text) => el("li", text)));
  const next = $(".next-step", view);
  next.textContent = job.next || "";
  next.hidden = !job.next;
  const summary = $(".summary", view);
  summary.hidden = !job.text;
  summary.textContent = job.text;
  if (!job.running) {
    const downloads = $(".downloads", view);
    downloads.hidden = false;
    for (const link of downloads.querySelectorAll("a")) {
      link.href = withToken(`/api/jobs/${job.id}/download/${link.dataset.what}`);
      link.hidden = job.kind === "undo" && link.dataset.what === "rejects.csv";
    }
    if (Object.keys(job.statuses).length && !view.dataset.shown) {
      view.dataset.shown = "1";
      showRows(job, view, "", 0);
    }
  }
}

function duration(seconds) {
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m ? `${m} min ${s % 60} s` : `${s} s`;
}

async function showRows(job, view, status, page) {
  const report = $(".report", view);
  report.hidden = false;
  const filters = $(".filters", report);
  const total = Object.values(job.statuses).reduce((a, b) => a + b, 0);
  const choices = [["", `all (${total.toLocaleString()})`],
    ...Object.entries(job.statuses).map(([s, n]) => [s, `${s} (${n.toLocaleString()})`])];
  filters.replaceChildren(...choices.map(([value, label]) => {
    const b = el("button", label);
    b.type = "button";
    b.dataset.status = value;
    b.setAttribute("aria-pressed", String(value === status));
    b.addEventListener("click", () => showRows(job, view, value, 0));
    return b;
  }));
  let data;
  try {
    data = await api("GET", `/api/jobs/${job.id}/rows?status=${encodeURIComponent(status)}&page=${page}`);
  } catch (e) { showError(e.message); return; }
  const columns = data.rows.length ? Object.keys(data.rows[0]).filter((c) => c !== "extra") : REPORT;
  const head = el("tr");
  head.append(...columns.map((c) => el("th", c)));
  $("thead", report).replaceChildren(head);
  $("tbody", report).replaceChildren(...data.rows.map((row) => reportRow(row, columns)));
  $(".page-text", report).textContent = `page ${data.page + 1} of ${data.pages}`;
  const prev = $(".prev", report), next = $(".next", report);
  prev.disabled = data.page <= 0;
  next.disabled = data.page + 1 >= data.pages;
  prev.onclick = () => showRows(job, view, status, data.page - 1);
  next.onclick = () => showRows(job, view, status, data.page + 1);
}

function causes(row) {
  // the source columns an error or warning names ("… in column E-mail")
  const found = new Set();
  for (const text of [row.error, row.warning]) {
    for (const match of String(text || "").matchAll(/in column (.+?)(?=[:;,)]|$)/g)) found.add(match[1].trim());
  }
  return found;
}

function reportRow(row, columns) {
  const tr = el("tr");
  tr.className = `status-${row.status}`;
  const named = causes(row);
  for (const column of columns) {
    const value = row[column] === null || row[column] === undefined ? "" : row[column];
    const td = el("td");
    if (column === "status") td.append(el("span", value, "status-chip"));
    else td.textContent = String(value);
    if (["error", "warning", "changes"].includes(column) && value) td.classList.add("long");
    if (!REPORT.includes(column) && named.has(column)) td.classList.add("cause");
    tr.append(td);
  }
  return tr;
}

$("#check").addEventListener("click", () => startJob("check", $("#check-result")));
$("#predict").addEventListener("click", () => startJob("predict", $("#check-result")));

async function importing(fresh) {
  $("#import").disabled = true;
  $("#fresh").hidden = true;
  $("#stop").hidden = false;
  $("#undo").hidden = true;
  $("#undo-result").replaceChildren();
  const done = await startJob("import", $("#import-result"), fresh);
  $("#stop").hidden = true;
  readiness();
  const ended = Boolean(done && done.code !== null && [0, 1].includes(done.code));
  $("#undo").hidden = !ended || /was undone on/.test(done.text);
  $("#fresh").hidden = !(done && done.replayed);  // a finished job imports again only afresh
}

$("#import").addEventListener("click", () => importing(false));
$("#fresh").addEventListener("click", () => {
  if (confirm("Import the whole file again, as if it had never been imported?")) importing(true);
});

$("#stop").addEventListener("click", async () => {
  if (!state.current) return;
  try { await api("POST", `/api/jobs/${state.current}/stop`); } catch (e) { showError(e.message); }
});

$("#undo").addEventListener("click", async () => {
  if (!confirm("Undo this import: delete the contacts it created and give back the values it changed?")) return;
  $("#undo").hidden = true;
  const done = await startJob("undo", $("#undo-result"));
  $("#undo").hidden = Boolean(done && [0, 1].includes(done.code));  // not finished: again
});

readiness();
