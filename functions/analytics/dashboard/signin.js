// Hosted sign-in (Cognito's, or any OAuth 2.0 server's) when the deployment configures it:
// authorization code with PKCE, in the browser, with no client secret. The ID token it
// returns (it carries custom:org_id and cognito:groups, which the API reads) is kept like a
// pasted one. Without a configuration (`make run`) the page only takes a pasted token.

import config from "./sign-in-config.js";
import { signIn, signOut } from "./api.js";

// The sign-in under way in this tab: its state, its verifier and where the user was.
const PENDING_KEY = "journeys.dashboard.sign-in";
const SCOPES = "openid email profile";

export const hostedSignIn = Boolean(config);

function base64url(bytes) {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

function randomString() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

function endpoint(path) {
  return new URL(path, config.signInUrl);
}

/** Off to the hosted sign-in; it comes back to redirectUri with ?code=…&state=…. */
export async function startSignIn() {
  const verifier = randomString();
  const state = randomString();
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ state, verifier, hash: location.hash }));
  const url = endpoint("/oauth2/authorize");
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: config.redirectUri,
    scope: SCOPES,
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: "S256",
  }).toString();
  location.assign(url.toString());
}

/** Back from the hosted sign-in: the code becomes a token (checked against the state this
 * tab sent), and the address loses the code. Nothing to do on any other load. */
export async function completeSignIn() {
  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  const error = params.get("error");
  if (!code && !error) return;
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null");
  sessionStorage.removeItem(PENDING_KEY);
  history.replaceState(null, "", location.pathname + ((pending && pending.hash) || ""));
  if (error) {
    throw new Error(`Sign-in failed: ${params.get("error_description") || error}`);
  }
  if (!pending || params.get("state") !== pending.state) {
    throw new Error("This sign-in was not started in this tab: sign in again.");
  }
  const response = await fetch(endpoint("/oauth2/token"), {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: config.clientId,
      code,
      redirect_uri: config.redirectUri,
      code_verifier: pending.verifier,
    }),
    credentials: "omit",
  });
  const tokens = response.ok ? await response.json() : {};
  if (!tokens.id_token) {
    throw new Error(`Sign-in failed (HTTP ${response.status}): sign in again.`);
  }
  signIn(tokens.id_token);
}

/** Signed out here and at the hosted sign-in (else its session would sign straight back in). */
export function endSession() {
  signOut();
  const url = endpoint("/logout");
  url.search = new URLSearchParams({
    client_id: config.clientId,
    logout_uri: config.redirectUri,
  }).toString();
  location.assign(url.toString());
}

/** Finishes a sign-in coming back, and offers the hosted sign-in next to the token paste. */
export async function setUpHostedSignIn() {
  if (!hostedSignIn) return;
  $("hosted-sign-in").hidden = false;
  $("hosted-sign-in-button").addEventListener("click", () => startSignIn());
  $("sign-out").addEventListener("click", () => endSession());
  await completeSignIn();
}

function $(id) {
  return document.getElementById(id);
}
