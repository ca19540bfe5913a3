// twofold web UI: security keys and passkeys. The buttons this file drives
// are hidden in the HTML and shown only where the browser has WebAuthn with
// the JSON helpers (parseCreationOptionsFromJSON, parseRequestOptionsFromJSON,
// toJSON); the "needs JavaScript" notes are hidden at the same time.
"use strict";

(function () {
  var PKC = window.PublicKeyCredential;
  var supported = !!(PKC && PKC.parseCreationOptionsFromJSON && PKC.parseRequestOptionsFromJSON &&
    navigator.credentials && window.fetch);

  // say puts a progress line in the block's status region (polite).
  function say(el, text) {
    var box = el.closest("section, .webauthn, .passkey") || document;
    var status = box.querySelector("[data-status]");
    if (status) status.textContent = text;
  }

  // fail shows an error where the server's errors go (the assertive
  // aria-live region at the top of the page) and moves focus to it.
  function fail(el, text) {
    say(el, "");
    var region = document.querySelector(".messages");
    if (!region) return;
    region.textContent = "";
    var box = document.createElement("div");
    box.className = "alert alert-error";
    box.setAttribute("role", "alert");
    box.id = "form-error";
    box.tabIndex = -1;
    var icon = document.createElement("span");
    icon.className = "alert-icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = "!";
    var p = document.createElement("p");
    p.textContent = text;
    box.appendChild(icon);
    box.appendChild(p);
    region.appendChild(box);
    box.focus();
  }

  // browserError words a failed navigator.credentials call.
  function browserError(e) {
    if (e && e.name === "NotAllowedError") {
      return "The request was cancelled or timed out. Try again, or use another way.";
    }
    if (e && e.name === "InvalidStateError") {
      return "This key is already added to your account.";
    }
    return "Your browser could not use the security key or passkey (" + (e && e.name || "error") + "). Try again, or use another way.";
  }

  // post sends JSON to the API and returns {ok, status, body}.
  function post(path, body) {
    return fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json"},
      body: body === undefined ? undefined : body
    }).then(function (r) {
      return r.text().then(function (t) {
        var b = null;
        try { b = JSON.parse(t); } catch (e) { b = null; }
        return {ok: r.ok, status: r.status, body: b};
      });
    });
  }

  // apiError words an error envelope of the API (SPEC §2).
  function apiError(res) {
    var e = res.body && res.body.error;
    if (!e) return "Something went wrong on our side. Please try again.";
    switch (e.code) {
      case "invalid_code":
      case "invalid_request":
        return "That security key or passkey was not accepted. Use one you added to this account, or another way.";
      case "unauthenticated":
        return "This sign-in has ended. Start again from the sign-in page.";
      case "rate_limited":
        return "Too many attempts in a short time. Wait a little and try again.";
    }
    var m = e.message || "";
    return m.charAt(0).toUpperCase() + m.slice(1) + ".";
  }

  // signIn runs authenticate/start, navigator.credentials.get and
  // authenticate/complete, then calls done with the API's answer (by
  // default: go to the settings page).
  function signIn(button, query, done) {
    button.disabled = true;
    say(button, "Waiting for your security key or passkey…");
    post("/api/webauthn/authenticate/start").then(function (start) {
      if (!start.ok) throw {api: start};
      var publicKey = PKC.parseRequestOptionsFromJSON(start.body);
      return navigator.credentials.get({publicKey: publicKey});
    }).then(function (cred) {
      say(button, "Checking…");
      return post("/api/webauthn/authenticate/complete" + query, JSON.stringify(cred.toJSON()));
    }).then(function (res) {
      if (!res.ok) throw {api: res};
      say(button, "Signed in.");
      if (done) {
        done(res.body);
      } else {
        window.location.assign("/settings");
      }
    }).catch(function (e) {
      button.disabled = false;
      fail(button, e && e.api ? apiError(e.api) : browserError(e));
    });
  }

  // register runs navigator.credentials.create with the options the server
  // put in the form, and submits credential.toJSON() in the form.
  function register(button) {
    var form = button.form;
    button.disabled = true;
    say(button, "Waiting for your security key or passkey…");
    var publicKey;
    try {
      publicKey = PKC.parseCreationOptionsFromJSON(JSON.parse(form.dataset.options));
    } catch (e) {
      button.disabled = false;
      fail(button, browserError(e));
      return;
    }
    navigator.credentials.create({publicKey: publicKey}).then(function (cred) {
      say(button, "Saving…");
      form.elements.credential.value = JSON.stringify(cred.toJSON());
      form.submit();
    }).catch(function (e) {
      button.disabled = false;
      fail(button, browserError(e));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!supported) return;
    document.querySelectorAll("[data-webauthn-unsupported]").forEach(function (el) { el.hidden = true; });
    document.querySelectorAll("[data-webauthn-block]").forEach(function (el) { el.hidden = false; });
    document.querySelectorAll("[data-webauthn]").forEach(function (b) {
      b.hidden = false;
      b.addEventListener("click", function () {
        switch (b.dataset.webauthn) {
          case "passkey":
            signIn(b, "");
            break;
          case "second-factor":
            var remember = document.getElementById("remember_device");
            signIn(b, remember && remember.checked ? "?remember_device=true" : "");
            break;
          case "register":
            register(b);
            break;
          case "reauth":
            // A passkey login renews the session; then the change the
            // prompt carries is made. A passkey of another account signs
            // into that account instead: no change is made for it.
            signIn(b, "", function (body) {
              var form = b.form;
              if (body && body.user && body.user.email === form.dataset.email) {
                form.submit();
              } else {
                window.location.assign("/settings");
              }
            });
            break;
        }
      });
    });
  });
})();
