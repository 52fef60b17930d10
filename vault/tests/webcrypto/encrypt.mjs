// Encrypts like the legacy Supabase Edge Function: Web Crypto AES-GCM, a random 12-byte IV,
// no associated data. Reads {"key": "<base64 raw key>", "plaintexts": ["..."]} on stdin and
// prints, for each plaintext, the three stored layouts the vault can import.
import { webcrypto } from "node:crypto";

const { subtle } = webcrypto;

const readStdin = async () => {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
};

const { key, plaintexts } = await readStdin();
const cryptoKey = await subtle.importKey(
  "raw",
  Buffer.from(key, "base64"),
  { name: "AES-GCM" },
  false,
  ["encrypt"],
);

const layouts = [];
for (const plaintext of plaintexts) {
  const iv = webcrypto.getRandomValues(new Uint8Array(12));
  const sealed = Buffer.from(
    await subtle.encrypt({ name: "AES-GCM", iv }, cryptoKey, new TextEncoder().encode(plaintext)),
  );
  const ivBytes = Buffer.from(iv);
  layouts.push({
    concatenated_base64: Buffer.concat([ivBytes, sealed]).toString("base64"),
    colon_hex: `${ivBytes.toString("hex")}:${sealed.toString("hex")}`,
    colon_base64: `${ivBytes.toString("base64")}:${sealed.toString("base64")}`,
  });
}
process.stdout.write(JSON.stringify(layouts));
