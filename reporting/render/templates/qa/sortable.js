// Click a header of a .sortable table to sort by it (numbers by data-sort, text otherwise).
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, idx) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var asc = !th.classList.contains("sorted-asc");
      table.querySelectorAll("th").forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
      th.classList.add(asc ? "sorted-asc" : "sorted-desc");
      rows.sort(function (a, b) {
        var x = a.cells[idx], y = b.cells[idx];
        var xs = x.getAttribute("data-sort"), ys = y.getAttribute("data-sort");
        var xn = parseFloat(xs), yn = parseFloat(ys);
        var cmp = (!isNaN(xn) && !isNaN(yn)) ? xn - yn : (x.textContent).localeCompare(y.textContent);
        return asc ? cmp : -cmp;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
