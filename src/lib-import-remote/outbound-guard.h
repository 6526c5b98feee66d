#ifndef OUTBOUND_GUARD_H
#define OUTBOUND_GUARD_H

#include "net.h"

/* Which addresses an import may connect to. The source of an import comes
   from whoever can queue one (a control panel's form, a CSV, a userdb
   field), so by default it may only be a public Internet address: not
   loopback, private, link-local (cloud metadata), shared, documentation,
   multicast or reserved space, in IPv4 or IPv6 (IPv4 embedded in IPv6 -
   IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16 - is
   checked as IPv4; IPv4-compatible ::/96 and the local-use NAT64 prefix
   64:ff9b:1::/48 are refused). import_remote_allowed_networks adds networks (e.g. an
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
/* Refuse ip as an address of this server, in any form it can be written
   in: IPv4, IPv4-mapped IPv6 (::ffff:1.2.3.4 = ::ffff:102:304), and the
   NAT64 (64:ff9b::/96) and 6to4 (2002::/16) forms of an IPv4 address. */
void outbound_guard_add_own_address(struct outbound_guard *guard,
				    const struct ip_addr *ip);

/* TRUE if ip may be connected to; else FALSE and what kind of address it
   is ("a private address", ...). */
bool outbound_guard_allows(const struct outbound_guard *guard,
			   const struct ip_addr *ip, const char **kind_r);

#endif
