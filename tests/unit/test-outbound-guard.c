/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "test-common.h"
#include "outbound-guard.h"

static bool allows(const struct outbound_guard *guard, const char *addr)
{
	struct ip_addr ip;
	const char *kind;

	if (net_addr2ip(addr, &ip) < 0)
		i_fatal("bad address %s", addr);
	return outbound_guard_allows(guard, &ip, &kind);
}

static void test_outbound_guard_default(void)
{
	static const char *const refused[] = {
		"127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4",
		"172.31.255.255", "192.168.1.1", "169.254.169.254",
		"100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255",
		"192.0.2.10", "198.18.0.1", "::1", "::", "fe80::1",
		"fd00::1", "fc00::1", "ff02::1", "::ffff:127.0.0.1",
		"::ffff:10.1.2.3", "64:ff9b::a9fe:a9fe", "2002:a00:1::1",
		"2001:db8::1",
		/* IPv4-mapped, written both ways */
		"::ffff:7f00:1", "::ffff:a01:203", "::ffff:c0a8:101",
		"::ffff:0.0.0.0",
		/* IPv4-compatible (::/96) */
		"::1.2.3.4", "::102:304", "::8.8.8.8",
		/* local-use NAT64 (64:ff9b:1::/48) */
		"64:ff9b:1::808:808", "64:ff9b:1:ffff::1",
		/* NAT64 and 6to4 forms of private IPv4 */
		"64:ff9b::a00:1", "64:ff9b::7f00:1", "64:ff9b::c0a8:101",
		"2002:7f00:1::1", "2002:c0a8:101::1", "2002:a9fe:a9fe::",
		/* IPv4-translated (::ffff:0:0:0/96) */
		"::ffff:0:7f00:1",
	};
	static const char *const allowed[] = {
		"93.184.216.34", "8.8.8.8", "172.32.0.1", "172.15.255.255",
		"100.128.0.1", "2a00:1450:4001:82b::200a", "::ffff:8.8.8.8",
		"64:ff9b::808:808", "2002:808:808::1",
	};
	struct outbound_guard *guard;
	struct ip_addr ip;
	const char *error, *kind;
	unsigned int i;

	test_begin("outbound guard: public addresses only by default");
	test_assert(outbound_guard_init("", &guard, &error) == 0);
	for (i = 0; i < N_ELEMENTS(refused); i++)
		test_assert_idx(!allows(guard, refused[i]), i);
	for (i = 0; i < N_ELEMENTS(allowed); i++)
		test_assert_idx(allows(guard, allowed[i]), i);
	test_assert(net_addr2ip("169.254.169.254", &ip) == 0);
	test_assert(!outbound_guard_allows(guard, &ip, &kind) &&
		    strcmp(kind, "a link-local address") == 0);
	outbound_guard_deinit(&guard);
	test_end();
}

static void test_outbound_guard_allowed_networks(void)
{
	struct outbound_guard *guard;
	const char *error;

	test_begin("outbound guard: import_remote_allowed_networks");
	test_assert(outbound_guard_init("127.0.0.0/8 10.1.2.0/24, fd00::/8 192.168.7.7",
					&guard, &error) == 0);
	test_assert(allows(guard, "127.0.0.1"));
	test_assert(allows(guard, "::ffff:127.0.0.1"));
	test_assert(allows(guard, "10.1.2.200"));
	test_assert(!allows(guard, "10.1.3.1"));
	test_assert(allows(guard, "fd00::5"));
	test_assert(allows(guard, "192.168.7.7"));
	test_assert(!allows(guard, "192.168.7.8"));
	test_assert(!allows(guard, "169.254.169.254"));
	test_assert(allows(guard, "8.8.8.8"));
	outbound_guard_deinit(&guard);

	/* an allowed network written as IPv4-mapped covers the IPv4 hosts */
	test_assert(outbound_guard_init("::ffff:10.1.2.0/120", &guard, &error) == 0);
	test_assert(allows(guard, "10.1.2.7"));
	test_assert(allows(guard, "::ffff:10.1.2.7"));
	test_assert(!allows(guard, "10.1.3.7"));
	outbound_guard_deinit(&guard);

	test_assert(outbound_guard_init("10.0.0.0/33", &guard, &error) < 0);
	test_assert(strstr(error, "Invalid network '10.0.0.0/33'") != NULL);
	test_assert(outbound_guard_init("intranet", &guard, &error) < 0);
	test_end();
}

static void test_outbound_guard_own_addresses(void)
{
	static const char *const own_forms[] = {
		"93.184.216.34", "::ffff:93.184.216.34", "::ffff:5db8:d822",
		"64:ff9b::5db8:d822", "64:ff9b::93.184.216.34",
		"2002:5db8:d822::1", "2002:5db8:d822:ffff::5",
		"2a00:1450:4001:82b::200a",
	};
	static const char *const others[] = {
		"93.184.216.35", "::ffff:93.184.216.35", "64:ff9b::5db8:d823",
		"2002:5db8:d823::1", "2a00:1450:4001:82b::200b",
	};
	struct outbound_guard *guard;
	struct ip_addr ip;
	const char *error, *kind;
	unsigned int i;

	test_begin("outbound guard: own addresses in any family");
	test_assert(outbound_guard_init("", &guard, &error) == 0);
	test_assert(net_addr2ip("93.184.216.34", &ip) == 0);
	outbound_guard_add_own_address(guard, &ip);
	test_assert(net_addr2ip("2a00:1450:4001:82b::200a", &ip) == 0);
	outbound_guard_add_own_address(guard, &ip);
	for (i = 0; i < N_ELEMENTS(own_forms); i++) {
		test_assert(net_addr2ip(own_forms[i], &ip) == 0);
		test_assert_idx(!outbound_guard_allows(guard, &ip, &kind) &&
				strcmp(kind, "an address of this server") == 0, i);
	}
	for (i = 0; i < N_ELEMENTS(others); i++)
		test_assert_idx(allows(guard, others[i]), i);
	outbound_guard_deinit(&guard);

	/* an interface that lists its IPv4 address in the mapped form
	   still matches the plain IPv4 address */
	test_assert(outbound_guard_init("", &guard, &error) == 0);
	test_assert(net_addr2ip("::ffff:93.184.216.34", &ip) == 0);
	outbound_guard_add_own_address(guard, &ip);
	test_assert(!allows(guard, "93.184.216.34"));
	test_assert(!allows(guard, "64:ff9b::5db8:d822"));
	test_assert(allows(guard, "93.184.216.35"));
	outbound_guard_deinit(&guard);
	test_end();
}

static void test_outbound_guard_kinds(void)
{
	static const struct {
		const char *addr, *kind;
	} tests[] = {
		{ "::ffff:127.0.0.1", "a loopback address" },
		{ "::ffff:7f00:1", "a loopback address" },
		{ "::ffff:10.1.2.3", "a private address" },
		{ "::1.2.3.4", "an IPv4-compatible address" },
		{ "64:ff9b:1::102:304", "a local-use NAT64 address" },
		{ "2002:a00:1::1", "a private address" },
		{ "::1", "a loopback address" },
		{ "::", "the unspecified address" },
	};
	struct outbound_guard *guard;
	struct ip_addr ip;
	const char *error, *kind;
	unsigned int i;

	test_begin("outbound guard: what a refused address is");
	test_assert(outbound_guard_init("", &guard, &error) == 0);
	for (i = 0; i < N_ELEMENTS(tests); i++) {
		test_assert(net_addr2ip(tests[i].addr, &ip) == 0);
		test_assert_idx(!outbound_guard_allows(guard, &ip, &kind) &&
				strcmp(kind, tests[i].kind) == 0, i);
	}
	outbound_guard_deinit(&guard);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_outbound_guard_default,
		test_outbound_guard_allowed_networks,
		test_outbound_guard_own_addresses,
		test_outbound_guard_kinds,
		NULL
	};
	return test_run(test_functions);
}
