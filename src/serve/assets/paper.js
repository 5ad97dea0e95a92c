// The paper page's "+ / −" controls: each click adds the result to the seeds ("more like
// this") or to the papers to avoid ("less like this"), and the list is fetched again from
// the server, already rendered and escaped there, without reloading the page.
(function () {
  "use strict";
  const box = document.getElementById("like");
  if (!box) return;
  const seeds = [box.dataset.seed];
  const not = [];

  function query() {
    const p = new URLSearchParams();
    seeds.forEach((id) => p.append("id", id));
    not.forEach((id) => p.append("not", id));
    return p.toString();
  }

  async function rerank() {
    box.classList.add("busy");
    try {
      const r = await fetch("/similar?" + query(), { headers: { Accept: "text/html" } });
      if (r.ok) {
        // Server-rendered and escaped by the server; nothing from the corpus is built here.
        box.innerHTML = await r.text();
      } else {
        const e = await r.json().catch(() => ({ error: r.statusText }));
        const msg = document.createElement("p");
        msg.className = "error";
        msg.textContent = e.error || "the list could not be re-ranked";
        box.prepend(msg);
      }
    } finally {
      box.classList.remove("busy");
    }
  }

  box.addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-id]");
    if (!button) return;
    const id = button.dataset.id;
    const list = button.classList.contains("more") ? seeds : not;
    if (!seeds.includes(id) && !not.includes(id)) {
      list.push(id);
      rerank();
    }
  });
})();
