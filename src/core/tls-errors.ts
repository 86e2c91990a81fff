/**
 * Certificate failures, told apart from other connection errors: retrying cannot fix them, and
 * the user needs to hear what can (trust the CA, or knowingly skip verification).
 */

/** OpenSSL and Node codes of a certificate that failed verification. */
const CERTIFICATE_CODE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/;

/** The sentence for a certificate that failed verification, or undefined for other errors. */
export function certificateProblem(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !CERTIFICATE_CODE.test(code)) return undefined;
  const message = err instanceof Error ? err.message : String(err);
  return (
    `the server's TLS certificate is not trusted: ${message} (${code}); ` +
    'trust its CA with NODE_EXTRA_CA_CERTS=ca.pem, or accept the risk with --insecure'
  );
}
