/**
 * The per-repo allowlist. Entries are exact addresses or `*@domain`; a wildcard covers exactly that
 * domain, never its subdomains (a subdomain can have its own, weaker mail setup).
 */
export function isAuthorizedSender(address: string, authorizedSenders: readonly string[]): boolean {
  const addr = address.trim().toLowerCase();
  const at = addr.indexOf('@');
  if (at <= 0 || at !== addr.lastIndexOf('@') || at === addr.length - 1) return false;
  const domain = addr.slice(at + 1);
  return authorizedSenders.some((entry) => {
    const e = entry.trim().toLowerCase();
    if (e.startsWith('*@')) return e.length > 2 && e.slice(2) === domain;
    return e === addr;
  });
}
