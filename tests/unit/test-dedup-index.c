/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "test-common.h"
#include "dedup-index.h"

#define TEST_KEYS 200000

static const char *test_key(unsigned int i)
{
	return dedup_key_message_id(t_strdup_printf("%u@test.example", i),
				    1000 + i % 7);
}

static void test_dedup_index_many(void)
{
	struct dedup_index *index;
	unsigned int i, added = 0, again = 0;

	test_begin("dedup index: 200,000 identities through its growth");
	index = dedup_index_init();
	for (i = 0; i < TEST_KEYS; i++) T_BEGIN {
		if (dedup_index_add(index, test_key(i)))
			added++;
	} T_END;
	test_assert(added == TEST_KEYS);
	test_assert(dedup_index_count(index) == TEST_KEYS);
	/* every one is still there after the table grew */
	for (i = 0; i < TEST_KEYS; i++) T_BEGIN {
		if (!dedup_index_add(index, test_key(i)))
			again++;
	} T_END;
	test_assert(again == TEST_KEYS);
	test_assert(dedup_index_count(index) == TEST_KEYS);
	dedup_index_deinit(&index);
	test_assert(index == NULL);
	test_end();
}

static void test_dedup_index_keys(void)
{
	struct dedup_index *index;

	test_begin("dedup index: the same Message-ID with another size is another message");
	index = dedup_index_init();
	test_assert(dedup_index_add(index, dedup_key_message_id("a@b", 10)));
	test_assert(!dedup_index_add(index, dedup_key_message_id("a@b", 10)));
	test_assert(dedup_index_add(index, dedup_key_message_id("a@b", 11)));
	test_assert(dedup_index_add(index, dedup_key_message_id("c@b", 10)));
	test_assert(dedup_index_count(index) == 3);
	/* added without a UID, or not there: no UID */
	test_assert(dedup_index_lookup_uid(index, dedup_key_message_id("a@b", 10)) == 0);
	test_assert(dedup_index_lookup_uid(index, dedup_key_message_id("x@b", 10)) == 0);
	dedup_index_deinit(&index);
	test_end();

	test_begin("dedup index: Message-IDs normalized");
	test_assert_strcmp(dedup_message_id_normalize(" <a@b> (c)"), "a@b");
	test_assert(dedup_message_id_normalize("no id here") == NULL);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_dedup_index_many,
		test_dedup_index_keys,
		NULL
	};
	return test_run(test_functions);
}
