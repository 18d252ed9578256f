// The search page: asks /api/search, shows the query's render and one card per photo.
// Images go through fetch, so a server started with --token works from the page too.
"use strict";

const form = document.getElementById("search");
const input = document.getElementById("plate");
const method = document.getElementById("method");
const statusLine = document.getElementById("status");
const results = document.getElementById("results");
const render = document.getElementById("render");

function token() {
  return sessionStorage.getItem("platesearch-token");
}

async function api(url) {
  const headers = token() ? { Authorization: `Bearer ${token()}` } : {};
  let response = await fetch(url, { headers });
  if (response.status === 401) {
    const given = window.prompt("This server needs its token:");
    if (!given) throw new Error("a token is needed");
    sessionStorage.setItem("platesearch-token", given);
    response = await fetch(url, { headers: { Authorization: `Bearer ${given}` } });
  }
  return response;
}

async function showImage(img, url) {
  const response = await api(url);
  if (!response.ok) {
    img.alt = `${img.alt} (not available)`;
    return;
  }
  img.src = URL.createObjectURL(await response.blob());
}

function card(result) {
  const item = document.createElement("li");
  item.className = "card";
  item.dataset.rank = result.rank;
  const crop = Object.assign(document.createElement("img"), { className: "crop", alt: `crop of result ${result.rank}` });
  const photo = Object.assign(document.createElement("img"), { className: "photo", alt: `photo of result ${result.rank} with the box drawn` });
  const meta = document.createElement("div");
  meta.className = "meta";
  const reading = result.reading ? ` <span class="reading"></span>` : "";
  meta.innerHTML = `<span class="rank">#${result.rank}</span> score <span class="score"></span>${reading}<br><a class="path" tabindex="0"></a>`;
  meta.querySelector(".score").textContent = result.score.toFixed(3);
  if (result.reading) meta.querySelector(".reading").textContent = result.reading;
  meta.querySelector(".path").textContent =
    result.time === undefined ? result.path : `${result.path} at ${result.time.toFixed(1)} s (seen ${result.first.toFixed(1)}–${result.last.toFixed(1)} s)`;
  item.append(meta, crop, photo);
  showImage(crop, `/api/crops/${result.crop_id}.png`);
  showImage(photo, `/api/photos/${result.crop_id}.jpg`);
  return item;
}

async function search(text) {
  results.replaceChildren();
  statusLine.className = "";
  statusLine.textContent = "searching…";
  const query = new URLSearchParams({ q: text, k: "12", method: method.value });
  const response = await api(`/api/search?${query}`);
  const body = await response.json();
  if (!response.ok) {
    statusLine.className = "error";
    statusLine.textContent = body.error;
    document.getElementById("query").hidden = true;
    return;
  }
  document.getElementById("query").hidden = false;
  showImage(render, `/api/render?${new URLSearchParams({ q: text })}`);
  statusLine.textContent = body.length ? `${body.length} photos, best first` : "no photos in this index";
  results.append(...body.map(card));
  history.replaceState(null, "", `?${query}`);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (input.value.trim()) search(input.value.trim()).catch((error) => (statusLine.textContent = error.message));
});

document.addEventListener("keydown", (event) => {
  if (event.key === "/" && document.activeElement !== input) {
    event.preventDefault();
    input.focus();
    input.select();
  }
});

const initial = new URLSearchParams(location.search);
if (initial.get("q")) {
  input.value = initial.get("q");
  if (initial.get("method")) method.value = initial.get("method");
  search(input.value);
}
