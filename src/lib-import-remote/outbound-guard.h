#ifndef OUTBOUND_GUARD_H
#define OUTBOUND_GUARD_H

#include "net.h"

/* Which addresses an import may connect to. The source of an import comes
   from whoever can queue one (a control panel's form, a CSV, a userdb
   field), so by default it may only be a public Internet address: not
   loopback, private, link-local (cloud metadata), shared, documentation,
   multicast or reserved space, in IPv4 or IPv6 (IPv4 embedded in IPv6 is
   checked as IPv4). import_remote_allowed_networks adds networks (e.g. an
   old server in the provider's own network). The check is made on the
   address that is then connected to, never on a name resolved again. */

struct outbound_guard;

/* allowed_networks: "" or space-separated networks (10.1.2.0/24, a plain
   address, 2001:db8::/32). Returns 0, or -1 with an error for a bad one. */
int outbound_guard_init(const char *allowed_networks,
			struct outbound_guard **guard_r, const char **error_r);
void outbound_guard_deinit(struct outbound_guard **guard);
/* Refuse this server's own addresses too (its interfaces': getifaddrs).
   Separate from init, which checking the setting also uses (at every
   login of a mail plugin user, in doveconf): only an import needs it. */
void outbound_guard_add_own_addresses(struct outbound_guard *guard);

/* TRUE if ip may be connected to; else FALSE and what kind of address it
   is ("a private address", ...). */
bool outbound_guard_allows(const struct outbound_guard *guard,
			   const struct ip_addr *ip, const char **kind_r);

#endif
