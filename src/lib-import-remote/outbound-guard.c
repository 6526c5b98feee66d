/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "import-remote-event.h"
#include "outbound-guard.h"

#include <ifaddrs.h>

struct outbound_network {
	struct ip_addr ip;
	unsigned int bits;
};
ARRAY_DEFINE_TYPE(outbound_network, struct outbound_network);

struct outbound_guard {
	pool_t pool;
	ARRAY_TYPE(outbound_network) allowed;
	/* this server's own addresses (a public one reaches our own
	   services just as loopback does) */
	ARRAY(struct ip_addr) own;
};

/* What is not the public Internet (IANA special-purpose registries) */
static const struct {
	const char *network;
	const char *kind;
} outbound_special[] = {
	{ "0.0.0.0/8", "a \"this network\" address" },
	{ "10.0.0.0/8", "a private address" },
	{ "100.64.0.0/10", "a shared (carrier-grade NAT) address" },
	{ "127.0.0.0/8", "a loopback address" },
	{ "169.254.0.0/16", "a link-local address" },
	{ "172.16.0.0/12", "a private address" },
	{ "192.0.0.0/24", "an IETF protocol address" },
	{ "192.0.2.0/24", "a documentation address" },
	{ "192.88.99.0/24", "a 6to4 relay address" },
	{ "192.168.0.0/16", "a private address" },
	{ "198.18.0.0/15", "a benchmarking address" },
	{ "198.51.100.0/24", "a documentation address" },
	{ "203.0.113.0/24", "a documentation address" },
	{ "224.0.0.0/4", "a multicast address" },
	{ "240.0.0.0/4", "a reserved address" },
	{ "::/128", "the unspecified address" },
	{ "::1/128", "a loopback address" },
	/* deprecated IPv4-compatible addresses (::a.b.c.d): no host
	   has one, and systems that still accept them reach IPv4 a.b.c.d */
	{ "::/96", "an IPv4-compatible address" },
	/* local-use NAT64 prefix (RFC 8215): reaches the IPv4 space a
	   local translator chooses, which may be private */
	{ "64:ff9b:1::/48", "a local-use NAT64 address" },
	{ "100::/64", "a discard address" },
	{ "2001::/23", "an IETF protocol address" },
	{ "2001:db8::/32", "a documentation address" },
	{ "fc00::/7", "a private (unique local) address" },
	{ "fe80::/10", "a link-local address" },
	{ "fec0::/10", "a site-local address" },
	{ "ff00::/8", "a multicast address" },
};

void outbound_guard_add_own_addresses(struct outbound_guard *guard)
{
	struct ifaddrs *ifaddrs, *ifa;
	struct ip_addr ip;

	if (getifaddrs(&ifaddrs) < 0) {
		/* the special networks are refused all the same; a public
		   address of our own would not be recognised */
		e_error(import_remote_event(), "getifaddrs() failed: %m");
		return;
	}
	for (ifa = ifaddrs; ifa != NULL; ifa = ifa->ifa_next) {
		if (ifa->ifa_addr == NULL ||
		    (ifa->ifa_addr->sa_family != AF_INET &&
		     ifa->ifa_addr->sa_family != AF_INET6))
			continue;
		i_zero(&ip);
		ip.family = ifa->ifa_addr->sa_family;
		if (ip.family == AF_INET) {
			ip.u.ip4 = ((const struct sockaddr_in *)
				    (const void *)ifa->ifa_addr)->sin_addr;
		} else {
			ip.u.ip6 = ((const struct sockaddr_in6 *)
				    (const void *)ifa->ifa_addr)->sin6_addr;
		}
		outbound_guard_add_own_address(guard, &ip);
	}
	freeifaddrs(ifaddrs);
}

int outbound_guard_init(const char *allowed_networks,
			struct outbound_guard **guard_r, const char **error_r)
{
	struct outbound_guard *guard;
	struct outbound_network net;
	const char *const *nets;
	pool_t pool;

	pool = pool_alloconly_create("outbound guard", 256);
	guard = p_new(pool, struct outbound_guard, 1);
	guard->pool = pool;
	p_array_init(&guard->allowed, pool, 4);
	for (nets = t_strsplit_spaces(allowed_networks, " ,");
	     *nets != NULL; nets++) {
		if (net_parse_range(*nets, &net.ip, &net.bits) < 0) {
			*error_r = t_strdup_printf(
				"import_remote_allowed_networks: Invalid "
				"network '%s' (e.g. 10.1.2.0/24 or 2001:db8::/32)",
				*nets);
			pool_unref(&pool);
			return -1;
		}
		array_push_back(&guard->allowed, &net);
	}
	p_array_init(&guard->own, pool, 4);
	*guard_r = guard;
	return 0;
}

void outbound_guard_deinit(struct outbound_guard **_guard)
{
	struct outbound_guard *guard = *_guard;

	*_guard = NULL;
	if (guard != NULL)
		pool_unref(&guard->pool);
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d, also written ::ffff:102:304)
   is the IPv4 host a.b.c.d itself: make it IPv4. Other addresses are
   returned as they are. */
static void outbound_normalise(const struct ip_addr *ip,
			       struct ip_addr *ip_r)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	*ip_r = *ip;
	if (ip->family == AF_INET6 &&
	    memcmp(ip->u.ip6.s6_addr, mapped, sizeof(mapped)) == 0) {
		i_zero(ip_r);
		ip_r->family = AF_INET;
		memcpy(&ip_r->u.ip4, ip->u.ip6.s6_addr + 12, 4);
	}
}

/* The IPv4 address carried by an IPv4-mapped (::ffff:0:0/96),
   IPv4-translated (::ffff:0:0:0/96), NAT64 (64:ff9b::/96) or 6to4
   (2002::/16) address, which all reach IPv4 hosts */
static bool outbound_embedded_ipv4(const struct ip_addr *ip,
				   struct ip_addr *ipv4_r)
{
	static const unsigned char nat64[12] = {
		0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0
	};
	static const unsigned char translated[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0
	};
	const unsigned char *b = ip->u.ip6.s6_addr;

	if (ip->family != AF_INET6)
		return FALSE;
	outbound_normalise(ip, ipv4_r);
	if (ipv4_r->family == AF_INET)
		return TRUE;
	i_zero(ipv4_r);
	ipv4_r->family = AF_INET;
	if (memcmp(b, nat64, sizeof(nat64)) == 0 ||
	    memcmp(b, translated, sizeof(translated)) == 0)
		memcpy(&ipv4_r->u.ip4, b + 12, 4);
	else if (b[0] == 0x20 && b[1] == 0x02)
		memcpy(&ipv4_r->u.ip4, b + 2, 4);
	else
		return FALSE;
	return TRUE;
}

/* ip in net_ip/bits, both of the same family (an IPv4 network never
   matches an IPv6 address here: callers normalise first) */
static bool outbound_in_network(const struct ip_addr *ip,
				const struct ip_addr *net_ip,
				unsigned int bits)
{
	if (ip->family != net_ip->family)
		return FALSE;
	return net_is_in_network(ip, net_ip, bits);
}

static const char *outbound_special_kind(const struct ip_addr *ip)
{
	struct ip_addr net_ip, ipv4;
	unsigned int i, bits;

	if (outbound_embedded_ipv4(ip, &ipv4))
		return outbound_special_kind(&ipv4);
	for (i = 0; i < N_ELEMENTS(outbound_special); i++) {
		if (net_parse_range(outbound_special[i].network, &net_ip,
				    &bits) < 0)
			i_unreached();
		if (outbound_in_network(ip, &net_ip, bits))
			return outbound_special[i].kind;
	}
	return NULL;
}

/* ip is one of own's addresses: the same host whatever the family it is
   written in (IPv4, IPv4-mapped, or the NAT64/6to4 forms of it) */
static bool outbound_is_own(const struct outbound_guard *guard,
			    const struct ip_addr *ip)
{
	struct ip_addr norm_ip, norm_own, ipv4;
	const struct ip_addr *own;
	bool have_ipv4;

	outbound_normalise(ip, &norm_ip);
	have_ipv4 = outbound_embedded_ipv4(ip, &ipv4);
	array_foreach(&guard->own, own) {
		outbound_normalise(own, &norm_own);
		if (net_ip_compare(&norm_ip, &norm_own))
			return TRUE;
		if (have_ipv4 && net_ip_compare(&ipv4, &norm_own))
			return TRUE;
	}
	return FALSE;
}

void outbound_guard_add_own_address(struct outbound_guard *guard,
				    const struct ip_addr *ip)
{
	array_push_back(&guard->own, ip);
}

bool outbound_guard_allows(const struct outbound_guard *guard,
			   const struct ip_addr *ip, const char **kind_r)
{
	const struct outbound_network *net;
	struct ip_addr norm_ip, norm_net;

	/* an IPv4-mapped address is its IPv4 host, for the allowed
	   networks as for the rest */
	outbound_normalise(ip, &norm_ip);
	array_foreach(&guard->allowed, net) {
		outbound_normalise(&net->ip, &norm_net);
		if (outbound_in_network(&norm_ip, &norm_net,
					norm_net.family == net->ip.family ?
					net->bits : (net->bits < 96 ? 0 :
						     net->bits - 96)))
			return TRUE;
	}
	*kind_r = outbound_special_kind(&norm_ip);
	if (*kind_r != NULL)
		return FALSE;
	if (outbound_is_own(guard, ip)) {
		*kind_r = "an address of this server";
		return FALSE;
	}
	return TRUE;
}
