// Reads the API on the same host (the Ingress or Route sends /api to it) and renders the runs.
"use strict";

const statusLine = document.getElementById("status");
const runsBody = document.getElementById("runs");

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.error || `${path} answered ${response.status}`);
  }
  return body;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function renderRuns(runs) {
  runsBody.replaceChildren(
    ...runs.map((run) => {
      const total = run.passed + run.failed;
      const row = document.createElement("tr");
      row.className = run.failed > 0 ? "failed" : "passed";
      row.append(
        cell(run.name),
        cell(new Date(run.started_at).toLocaleString()),
        cell(String(run.passed), "number"),
        cell(String(run.failed), "number"),
        cell(String(run.skipped), "number"),
        cell(total ? `${((100 * run.passed) / total).toFixed(1)} %` : "–", "number"),
      );
      return row;
    }),
  );
}

async function refresh() {
  try {
    const status = await getJson("/api/status");
    const { runs } = await getJson("/api/runs?limit=100");
    statusLine.className = "";
    statusLine.textContent = `${status.runs} runs stored (schema version ${status.schema_version})`;
    renderRuns(runs);
  } catch (error) {
    statusLine.className = "error";
    statusLine.textContent = `API unavailable: ${error.message}`;
  }
}

refresh();
setInterval(refresh, 30000);
