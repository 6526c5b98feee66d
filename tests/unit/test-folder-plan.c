/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "test-common.h"
#include "folder-plan.h"

static ARRAY_TYPE(remote_folder) remote;
static pool_t pool;

static void add_remote(const char *name, char sep, bool noselect,
		       enum folder_special_use use)
{
	struct remote_folder *rf = array_append_space(&remote);

	rf->remote_name = name;
	rf->separator = sep;
	rf->noselect = noselect;
	rf->special_use = use;
}

static const struct folder_plan_entry *
find_entry(const ARRAY_TYPE(folder_plan_entry) *plan, const char *remote_name)
{
	const struct folder_plan_entry *entry;

	array_foreach(plan, entry) {
		if (strcmp(entry->remote->remote_name, remote_name) == 0)
			return entry;
	}
	i_panic("no entry for %s", remote_name);
}

static void plan_init(struct folder_plan_settings *set)
{
	if (pool != NULL)
		pool_unref(&pool);
	pool = pool_alloconly_create("test plan", 4096);
	p_array_init(&remote, pool, 16);
	i_zero(set);
	set->ns_prefix = "";
	set->local_separator = '/';
}

static void test_plan_prefix_and_separator(void)
{
	struct folder_plan_settings set;
	ARRAY_TYPE(folder_plan_entry) plan;
	const struct folder_plan_entry *e;

	test_begin("folder plan: namespace prefix and separator");
	plan_init(&set);
	set.ns_prefix = "INBOX.";
	add_remote("INBOX", '.', FALSE, 0);
	add_remote("INBOX.Sent", '.', FALSE, 0);
	add_remote("INBOX.Lists", '.', TRUE, 0);
	add_remote("INBOX.Lists.dovecot", '.', FALSE, 0);
	add_remote("INBOX.a/b", '.', FALSE, 0);
	folder_plan_build(pool, &set, &remote, &plan);

	e = find_entry(&plan, "INBOX");
	test_assert_strcmp(e->dest_name, "INBOX");
	test_assert(folder_plan_entry_is_imported(e));
	e = find_entry(&plan, "INBOX.Sent");
	test_assert_strcmp(e->display_name, "Sent");
	test_assert_strcmp(e->dest_name, "Sent");
	e = find_entry(&plan, "INBOX.Lists");
	test_assert(e->noselect && !folder_plan_entry_is_imported(e));
	e = find_entry(&plan, "INBOX.Lists.dovecot");
	test_assert_strcmp(e->dest_name, "Lists/dovecot");
	test_assert_strcmp(e->display_name, "Lists/dovecot");
	/* a '/' inside a name can't be held with '/' as local separator */
	e = find_entry(&plan, "INBOX.a/b");
	test_assert(e->error != NULL && e->dest_name == NULL);
	test_assert(!folder_plan_entry_is_imported(e));
	test_end();
}

static void test_plan_names_kept(void)
{
	struct folder_plan_settings set;
	ARRAY_TYPE(folder_plan_entry) plan;
	const struct folder_plan_entry *e;

	test_begin("folder plan: names kept character for character");
	plan_init(&set);
	set.local_separator = '.';
	add_remote("Entw&APw-rfe", '/', FALSE, 0);
	add_remote("Projects/R&-D", '/', FALSE, 0);
	add_remote("Folder with spaces", '/', FALSE, 0);
	add_remote("100% *done*", '/', FALSE, 0);
	add_remote("&ZeVnLIqe- &MOEw,DDr-", '/', FALSE, 0);
	add_remote("bad&-utf7&", '/', FALSE, 0);
	add_remote("flat", '\0', FALSE, 0);
	add_remote("x&AAo-result=completed", '/', FALSE, 0);
	add_remote("esc&ABs-[31m/sub", '/', FALSE, 0);
	folder_plan_build(pool, &set, &remote, &plan);

	test_assert_strcmp(find_entry(&plan, "Entw&APw-rfe")->dest_name,
			   "Entw\xc3\xbcrfe");
	test_assert_strcmp(find_entry(&plan, "Projects/R&-D")->dest_name,
			   "Projects.R&D");
	test_assert_strcmp(find_entry(&plan, "Projects/R&-D")->display_name,
			   "Projects/R&D");
	test_assert_strcmp(find_entry(&plan, "Folder with spaces")->dest_name,
			   "Folder with spaces");
	test_assert_strcmp(find_entry(&plan, "100% *done*")->dest_name,
			   "100% *done*");
	test_assert_strcmp(find_entry(&plan, "&ZeVnLIqe- &MOEw,DDr-")->dest_name,
			   "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe3\x83\xa1"
			   "\xe3\x83\xbc\xe3\x83\xab");
	e = find_entry(&plan, "bad&-utf7&");
	test_assert(e->error != NULL);
	test_assert_strcmp(find_entry(&plan, "flat")->dest_name, "flat");
	/* a line break or an escape in a name: reported and skipped */
	e = find_entry(&plan, "x&AAo-result=completed");
	test_assert(e->error != NULL && strstr(e->error, "control characters") != NULL);
	test_assert(!folder_plan_entry_is_imported(e));
	e = find_entry(&plan, "esc&ABs-[31m/sub");
	test_assert(e->error != NULL && strstr(e->error, "control characters") != NULL);
	test_end();
}

static void test_plan_special_use(void)
{
	struct folder_plan_settings set;
	ARRAY_TYPE(folder_plan_entry) plan;

	test_begin("folder plan: special-use folders");
	plan_init(&set);
	set.local_special[FOLDER_SPECIAL_USE_SENT] = "Sent";
	set.local_special[FOLDER_SPECIAL_USE_TRASH] = "Trash";
	add_remote("INBOX", '/', FALSE, 0);
	add_remote("[Gmail]", '/', TRUE, 0);
	add_remote("[Gmail]/Sent Mail", '/', FALSE, FOLDER_SPECIAL_USE_SENT);
	add_remote("[Gmail]/Bin", '/', FALSE, FOLDER_SPECIAL_USE_TRASH);
	add_remote("[Gmail]/Drafts", '/', FALSE, FOLDER_SPECIAL_USE_DRAFTS);
	add_remote("[Gmail]/All Mail", '/', FALSE, FOLDER_SPECIAL_USE_ALL);
	/* not marked: stays as it is, since the server marks others */
	add_remote("Sent Items", '/', FALSE, 0);
	folder_plan_build(pool, &set, &remote, &plan);

	test_assert_strcmp(find_entry(&plan, "[Gmail]/Sent Mail")->dest_name, "Sent");
	test_assert_strcmp(find_entry(&plan, "[Gmail]/Bin")->dest_name, "Trash");
	/* no local \Drafts: the name is kept */
	test_assert_strcmp(find_entry(&plan, "[Gmail]/Drafts")->dest_name,
			   "[Gmail]/Drafts");
	test_assert_strcmp(find_entry(&plan, "[Gmail]/All Mail")->dest_name,
			   "[Gmail]/All Mail");
	test_assert_strcmp(find_entry(&plan, "Sent Items")->dest_name, "Sent Items");
	test_assert(find_entry(&plan, "[Gmail]")->noselect);
	test_end();

	test_begin("folder plan: special use by well-known name");
	plan_init(&set);
	set.local_special[FOLDER_SPECIAL_USE_SENT] = "Sent";
	set.local_special[FOLDER_SPECIAL_USE_JUNK] = "Junk";
	set.local_special[FOLDER_SPECIAL_USE_TRASH] = "Trash";
	add_remote("INBOX", '.', FALSE, 0);
	add_remote("Sent Items", '.', FALSE, 0);
	add_remote("Junk E-mail", '.', FALSE, 0);
	add_remote("Deleted Items", '.', FALSE, 0);
	add_remote("Archive.Sent Items", '.', FALSE, 0);
	folder_plan_build(pool, &set, &remote, &plan);
	test_assert_strcmp(find_entry(&plan, "Sent Items")->dest_name, "Sent");
	test_assert_strcmp(find_entry(&plan, "Junk E-mail")->dest_name, "Junk");
	test_assert_strcmp(find_entry(&plan, "Deleted Items")->dest_name, "Trash");
	/* only top-level names count */
	test_assert_strcmp(find_entry(&plan, "Archive.Sent Items")->dest_name,
			   "Archive/Sent Items");
	test_end();
}

static void test_plan_patterns_and_parent(void)
{
	struct folder_plan_settings set;
	ARRAY_TYPE(folder_plan_entry) plan;
	const char *include[] = { "Work/*", "INBOX", NULL };
	const char *exclude[] = { "Work/Old*", NULL };

	test_begin("folder plan: --folder, --exclude");
	plan_init(&set);
	set.include = include;
	set.exclude = exclude;
	add_remote("INBOX", '.', FALSE, 0);
	add_remote("Work", '.', FALSE, 0);
	add_remote("Work.Current", '.', FALSE, 0);
	add_remote("Work.Old stuff", '.', FALSE, 0);
	add_remote("Private", '.', FALSE, 0);
	folder_plan_build(pool, &set, &remote, &plan);
	test_assert(!find_entry(&plan, "INBOX")->excluded);
	test_assert(find_entry(&plan, "Work")->excluded);
	test_assert(!find_entry(&plan, "Work.Current")->excluded);
	test_assert(find_entry(&plan, "Work.Old stuff")->excluded);
	test_assert(find_entry(&plan, "Private")->excluded);
	test_end();

	test_begin("folder plan: --dest-parent");
	plan_init(&set);
	set.dest_parent = "Imported";
	set.local_special[FOLDER_SPECIAL_USE_SENT] = "Sent";
	add_remote("INBOX", '.', FALSE, 0);
	add_remote("Sent", '.', FALSE, FOLDER_SPECIAL_USE_SENT);
	add_remote("a.b", '.', FALSE, 0);
	folder_plan_build(pool, &set, &remote, &plan);
	test_assert_strcmp(find_entry(&plan, "INBOX")->dest_name, "Imported/INBOX");
	test_assert_strcmp(find_entry(&plan, "Sent")->dest_name, "Imported/Sent");
	test_assert_strcmp(find_entry(&plan, "a.b")->dest_name, "Imported/a/b");
	test_end();
}

static void test_special_use_parse(void)
{
	test_begin("special-use flag parsing");
	test_assert(folder_special_use_parse("\\Sent") == FOLDER_SPECIAL_USE_SENT);
	test_assert(folder_special_use_parse("\\junk") == FOLDER_SPECIAL_USE_JUNK);
	test_assert(folder_special_use_parse("\\HasChildren") == FOLDER_SPECIAL_USE_NONE);
	test_assert(folder_special_use_parse("Sent") == FOLDER_SPECIAL_USE_NONE);
	test_assert_strcmp(folder_special_use_flag(FOLDER_SPECIAL_USE_ARCHIVE),
			   "\\Archive");
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_plan_prefix_and_separator,
		test_plan_names_kept,
		test_plan_special_use,
		test_plan_patterns_and_parent,
		test_special_use_parse,
		NULL
	};
	int ret = test_run(test_functions);

	pool_unref(&pool);
	return ret;
}
