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

	test_assert(outbound_guard_init("10.0.0.0/33", &guard, &error) < 0);
	test_assert(strstr(error, "Invalid network '10.0.0.0/33'") != NULL);
	test_assert(outbound_guard_init("intranet", &guard, &error) < 0);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_outbound_guard_default,
		test_outbound_guard_allowed_networks,
		NULL
	};
	return test_run(test_functions);
}
