import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PrivateCa {
  /** The CA's certificate (PEM): what a client passes as `ca` / `--ca`. */
  ca: string;
  /** A server certificate for "localhost" and 127.0.0.1 signed by that CA, and its key (PEM). */
  cert: string;
  key: string;
}

let cached: PrivateCa | undefined;

/**
 * A private certificate authority and a server certificate it signed, made with openssl once
 * per process: unlike a self-signed certificate, the server's certificate is not itself the
 * trust anchor, as with a company's internal CA.
 */
export function privateCa(): PrivateCa {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), "sockpool-ca-"));
  const at = (name: string) => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
  try {
    openssl(
      ["req", "-x509", ...ec, "-keyout", at("ca.key"), "-out", at("ca.pem"), "-days", "2"]
        .concat(["-subj", "/CN=sockpool test CA", "-addext", "basicConstraints=critical,CA:TRUE"])
        .concat(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]),
    );
    openssl(["req", ...ec, "-keyout", at("server.key"), "-out", at("server.csr"), "-subj", "/CN=localhost"]);
    writeFileSync(
      at("server.ext"),
      "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    );
    openssl(
      ["x509", "-req", "-in", at("server.csr"), "-CA", at("ca.pem"), "-CAkey", at("ca.key")].concat([
        "-CAcreateserial",
        "-out",
        at("server.pem"),
        "-days",
        "2",
        "-extfile",
        at("server.ext"),
      ]),
    );
    cached = {
      ca: readFileSync(at("ca.pem"), "utf8"),
      cert: readFileSync(at("server.pem"), "utf8"),
      key: readFileSync(at("server.key"), "utf8"),
    };
    return cached;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
