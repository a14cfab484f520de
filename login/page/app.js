// The reference page: the seed's three screens (login, forced change, done), calling the
// login service through the page's own two endpoints (api/login, api/password). Passwords
// stay in the form fields and the request bodies: never stored, logged or put in a URL.
"use strict";

const OUTCOME_TEXT = {
  wrong: "電話番号またはパスワードが正しくありません。",
  locked: "パスワードが無効になりました。仮パスワードを設定し直してください（仮パスワード設定番号へお電話ください）。",
  expired: "仮パスワードの有効期限（24時間）が過ぎています。仮パスワードを設定し直してください。",
  none: "この電話番号にはパスワードが設定されていません。仮パスワード設定番号へお電話ください。",
  rate_limited: "しばらく時間をおいてから、もう一度お試しください。",
  error: "ただいまご利用いただけません。しばらくしてからもう一度お試しください。",
};

const $ = (id) => document.getElementById(id);
let loggedIn = null; // the number as the service keys it

function show(screen) {
  for (const id of ["screen-login", "screen-change", "screen-done"]) $(id).hidden = id !== screen;
}

function say(text, reasons) {
  $("message").textContent = text || "";
  $("message").hidden = !text;
  const list = $("reasons");
  list.replaceChildren(...(reasons || []).map((r) => {
    const li = document.createElement("li");
    li.textContent = r.message;
    li.dataset.code = r.code;
    return li;
  }));
  list.hidden = !(reasons && reasons.length);
}

async function call(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (response.status === 429) return { outcome: "rate_limited" };
  if (!response.ok) return { outcome: "error", error: data.error };
  return data;
}

function failed(data) {
  let text = OUTCOME_TEXT[data.outcome] || OUTCOME_TEXT.error;
  if (data.outcome === "wrong" && data.tries_left != null) text += `（あと${data.tries_left}回）`;
  if (data.error && data.error.code === "bad_number") text = "電話番号はハイフンなしの半角数字で入力してください。";
  say(text);
}

function done(title, text) {
  $("done-title").textContent = title;
  $("done-text").textContent = text;
  show("screen-done");
}

// A form's handler; the body's data-answered is set once its answer is on the screen
// (what a browser test waits for).
function onSubmit(formId, handler) {
  $(formId).addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await handler();
    } finally {
      document.body.dataset.answered = "1";
    }
  });
}

onSubmit("login-form", async () => {
  const body = { number: $("number").value.trim(), password: $("password").value, show_tries_left: true };
  $("password").value = "";
  const data = await call("api/login", body);
  if (data.outcome === "ok") {
    say("");
    done("ログイン完了", "ログインしました。");
  } else if (data.outcome === "must_change") {
    loggedIn = data.number;
    $("change-number").textContent = data.number;
    $("change-why").textContent = data.credential === "temporary"
      ? "仮パスワードで接続したため、パスワードの変更が必要です。現在のパスワード欄には仮パスワードを入力してください。"
      : "パスワードの有効期限が切れたため、パスワードの変更が必要です。";
    say("");
    show("screen-change");
  } else {
    failed(data);
  }
});

onSubmit("change-form", async () => {
  const body = {
    number: loggedIn,
    current_password: $("current").value,
    new_password: $("new1").value,
    new_password_again: $("new2").value,
    show_tries_left: true,
  };
  for (const id of ["current", "new1", "new2"]) $(id).value = "";
  const data = await call("api/password", body);
  if (data.outcome === "changed") {
    say("");
    done("パスワード変更完了", "パスワードを変更しました。次回から新しいパスワードでログインしてください。");
  } else if (data.outcome === "rejected") {
    say("新しいパスワードに設定できません。", data.reasons);
  } else {
    failed(data);
    if (data.outcome !== "wrong") show("screen-login");
  }
});

$("again-button").addEventListener("click", () => {
  say("");
  show("screen-login");
});
