// A Matrix client's discovery of the homeserver and the MatrixRTC focus, done by the real
// matrix-js-sdk (pinned in package-lock.json) against a proxy serving the generated files,
// and the step Element Call takes next. Run by tests/traffic/rtc.rs:
//
//   MXPROXY_ADDRESS=127.0.0.1 NODE_EXTRA_CA_CERTS=test-ca.pem node discover.mjs example.com
//
// Prints one JSON object: what the SDK found. The Rust test judges it.
import dns from "node:dns";

import { AutoDiscovery } from "matrix-js-sdk";
import { isLivekitTransportConfig } from "matrix-js-sdk/lib/matrixrtc/LivekitTransport.js";

// The test's network namespace has no resolver: every name is the proxy's address, as
// DNS would say for a real deployment. Node's fetch looks names up through dns.lookup.
const address = process.env.MXPROXY_ADDRESS;
if (!address) throw new Error("MXPROXY_ADDRESS is not set");
const family = address.includes(":") ? 6 : 4;
dns.lookup = (hostname, options, callback) => {
  const done = typeof options === "function" ? options : callback;
  if (typeof options === "object" && options.all) done(null, [{ address, family }]);
  else done(null, address, family);
};

const domain = process.argv[2];
// What a client does at login: the spec's discovery, /versions of the homeserver included.
const config = await AutoDiscovery.findClientConfig(domain);
// What Element Call does to find the focus (src/rtcSessionHelpers.ts `makeTransport`):
// the raw client well-known of the user's domain, its first LiveKit entry of
// `org.matrix.msc4143.rtc_foci`.
const raw = await AutoDiscovery.getRawClientConfig(domain);
const foci = raw["org.matrix.msc4143.rtc_foci"];
const focus = Array.isArray(foci) ? foci.find((f) => f && isLivekitTransportConfig(f)) : undefined;
// Element Call's next request (src/livekit/openIDSFU.ts): the token from the service at
// the focus URL. Its answer's status is enough: the stand-in behind it answers 200.
let getToken = null;
if (focus) {
  const response = await fetch(`${focus.livekit_service_url}/get_token`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ room_id: "!call:" + domain }),
  });
  getToken = { status: response.status, origin: response.headers.get("access-control-allow-origin") };
}
console.log(
  JSON.stringify({
    homeserver: config["m.homeserver"],
    discovered_foci: config["org.matrix.msc4143.rtc_foci"] ?? null,
    focus: focus ?? null,
    get_token: getToken,
  }),
);
