// motcua console: the lists' self-refresh, for browsers with script (pages work without it:
// they then reload through a <noscript> meta refresh). Served same-origin as
// /static/console.js, the only script the Content-Security-Policy allows.
//
// Why script rather than a bare meta refresh: a timed reload the person cannot stop fails
// WCAG 2.2.1 (Timing Adjustable), and it threw away a leader's ticked boxes in the inbox.
// Here the reload waits while a form on the page is being filled, and a button stops it.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="motcua-refresh"]');
  var main = document.querySelector("main");
  if (!meta || !main) {
    return;
  }
  var seconds = parseInt(meta.getAttribute("content"), 10);
  if (!(seconds > 0)) {
    return;
  }
  var paused = false;
  var busy = false;
  var timer = null;

  var box = document.createElement("p");
  box.className = "refresh noprint";
  var text = document.createElement("span");
  text.setAttribute("role", "status");
  var button = document.createElement("button");
  button.type = "button";
  button.className = "secondary";
  button.id = "refresh-toggle";
  box.appendChild(text);
  box.appendChild(document.createTextNode(" "));
  box.appendChild(button);
  var heading = main.querySelector("h1");
  main.insertBefore(box, heading ? heading.nextSibling : main.firstChild);

  function show() {
    if (paused) {
      text.textContent = "Đã tạm dừng tự cập nhật.";
      button.textContent = "Tiếp tục tự cập nhật";
    } else if (busy) {
      text.textContent = "Tạm dừng tự cập nhật trong khi bạn đang chọn hoặc nhập liệu.";
      button.textContent = "Tải lại ngay";
    } else {
      text.textContent = "Trang tự cập nhật mỗi " + seconds + " giây.";
      button.textContent = "Tạm dừng tự cập nhật";
    }
  }

  function arm() {
    window.clearTimeout(timer);
    if (!paused && !busy) {
      timer = window.setTimeout(function () {
        window.location.reload();
      }, seconds * 1000);
    }
  }

  button.addEventListener("click", function () {
    if (busy && !paused) {
      window.location.reload();
      return;
    }
    paused = !paused;
    show();
    arm();
  });
  // Anything typed or ticked in a form of the page holds the reload.
  main.addEventListener("input", function (e) {
    if (e.target !== button && e.target.closest && e.target.closest("form")) {
      busy = true;
      show();
      arm();
    }
  });
  show();
  arm();
})();
