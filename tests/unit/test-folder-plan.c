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
	const struct folder_plan_entry *e;

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

	e = find_entry(&plan, "[Gmail]/Sent Mail");
	test_assert_strcmp(e->dest_name, "Sent");
	test_assert_strcmp(e->reason, "\\Sent");
	test_assert(!e->special_use_fallback);
	test_assert_strcmp(find_entry(&plan, "[Gmail]/Bin")->dest_name, "Trash");
	/* no local \Drafts: the usual name, and the plan says why */
	e = find_entry(&plan, "[Gmail]/Drafts");
	test_assert_strcmp(e->dest_name, "Drafts");
	test_assert(e->special_use_fallback);
	test_assert_strcmp(e->reason, "\\Drafts, into Drafts: no local mailbox "
			   "has special_use \\Drafts");
	/* no usual name for \All: kept (not Gmail handling here) */
	e = find_entry(&plan, "[Gmail]/All Mail");
	test_assert_strcmp(e->dest_name, "[Gmail]/All Mail");
	test_assert(e->action == FOLDER_PLAN_COPY && !e->special_use_fallback);
	test_assert_strcmp(find_entry(&plan, "Sent Items")->dest_name, "Sent Items");
	test_assert_strcmp(find_entry(&plan, "Sent Items")->reason, "");
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
	e = find_entry(&plan, "Deleted Items");
	test_assert_strcmp(e->dest_name, "Trash");
	test_assert_strcmp(e->reason, "\\Trash (by its name: the server marks "
			   "no folder)");
	/* only top-level names count */
	test_assert_strcmp(find_entry(&plan, "Archive.Sent Items")->dest_name,
			   "Archive/Sent Items");
	test_end();

	test_begin("folder plan: special use without a local mailbox of it");
	plan_init(&set);
	set.ns_prefix = "INBOX.";
	add_remote("INBOX", '.', FALSE, 0);
	add_remote("INBOX.Sent Items", '.', FALSE, FOLDER_SPECIAL_USE_SENT);
	add_remote("INBOX.Brouillons", '.', FALSE, FOLDER_SPECIAL_USE_DRAFTS);
	add_remote("INBOX.Deleted Items", '.', FALSE, FOLDER_SPECIAL_USE_TRASH);
	add_remote("INBOX.Junk Email", '.', FALSE, FOLDER_SPECIAL_USE_JUNK);
	add_remote("INBOX.Old mail", '.', FALSE, FOLDER_SPECIAL_USE_ARCHIVE);
	add_remote("INBOX.Lists", '.', FALSE, 0);
	folder_plan_build(pool, &set, &remote, &plan);
	test_assert_strcmp(find_entry(&plan, "INBOX.Sent Items")->dest_name, "Sent");
	test_assert_strcmp(find_entry(&plan, "INBOX.Brouillons")->dest_name, "Drafts");
	test_assert_strcmp(find_entry(&plan, "INBOX.Deleted Items")->dest_name, "Trash");
	test_assert_strcmp(find_entry(&plan, "INBOX.Junk Email")->dest_name, "Junk");
	e = find_entry(&plan, "INBOX.Old mail");
	test_assert_strcmp(e->dest_name, "Archive");
	test_assert(e->special_use_fallback);
	e = find_entry(&plan, "INBOX.Lists");
	test_assert_strcmp(e->dest_name, "Lists");
	test_assert(!e->special_use_fallback);
	test_assert_strcmp(e->reason, "namespace prefix INBOX. dropped");
	test_assert_strcmp(find_entry(&plan, "INBOX")->reason, "");
	test_end();
}

static void
add_gmail_layout(const char *parent)
{
	/* listed as a Gmail-like server may: INBOX last, All Mail first */
	add_remote(t_strconcat(parent, "/All Mail", NULL), '/', FALSE,
		   FOLDER_SPECIAL_USE_ALL);
	add_remote(parent, '/', TRUE, 0);
	add_remote(t_strconcat(parent, "/Important", NULL), '/', FALSE,
		   FOLDER_SPECIAL_USE_IMPORTANT);
	add_remote("Work", '/', FALSE, 0);
	add_remote(t_strconcat(parent, "/Starred", NULL), '/', FALSE,
		   FOLDER_SPECIAL_USE_FLAGGED);
	add_remote(t_strconcat(parent, "/Sent Mail", NULL), '/', FALSE,
		   FOLDER_SPECIAL_USE_SENT);
	add_remote(t_strconcat(parent, "/Spam", NULL), '/', FALSE,
		   FOLDER_SPECIAL_USE_JUNK);
	add_remote("INBOX", '/', FALSE, 0);
}

static void test_plan_gmail(void)
{
	struct folder_plan_settings set;
	ARRAY_TYPE(folder_plan_entry) plan;
	ARRAY_TYPE(uint32_t) order;
	struct folder_plan_labels *labels;
	const struct folder_plan_entry *e;
	const char *const expected_order[] = {
		"INBOX", "[Gmail]/Sent Mail", "[Gmail]/Spam", "Work",
		"[Gmail]/Important", "[Gmail]/Starred", "[Gmail]/All Mail",
	};
	unsigned int i;
	uint32_t idx;

	test_begin("folder plan: Gmail's layout is recognised");
	plan_init(&set);
	add_gmail_layout("[Gmail]");
	test_assert(folder_plan_is_gmail(&remote, ""));
	plan_init(&set);
	add_gmail_layout("[Google Mail]");
	test_assert(folder_plan_is_gmail(&remote, ""));
	/* a server with an \All folder of its own is not Gmail */
	plan_init(&set);
	add_gmail_layout("Virtual");
	test_assert(!folder_plan_is_gmail(&remote, ""));
	/* nor is one with a folder called [Gmail] but no \All */
	plan_init(&set);
	add_remote("INBOX", '/', FALSE, 0);
	add_remote("[Gmail]/Sent Mail", '/', FALSE, FOLDER_SPECIAL_USE_SENT);
	test_assert(!folder_plan_is_gmail(&remote, ""));
	plan_init(&set);
	add_remote("[Gmailish]", '/', TRUE, 0);
	add_remote("All", '/', FALSE, FOLDER_SPECIAL_USE_ALL);
	test_assert(!folder_plan_is_gmail(&remote, ""));
	test_end();

	test_begin("folder plan: Gmail's labels");
	plan_init(&set);
	set.gmail = TRUE;
	set.local_special[FOLDER_SPECIAL_USE_SENT] = "Sent";
	add_gmail_layout("[Gmail]");
	folder_plan_build(pool, &set, &remote, &plan);
	e = find_entry(&plan, "[Gmail]/All Mail");
	test_assert(e->action == FOLDER_PLAN_COPY_REMAINING);
	test_assert(folder_plan_entry_is_imported(e));
	/* the user has no \Archive mailbox: the usual name */
	test_assert_strcmp(e->dest_name, "Archive");
	test_assert(e->special_use_fallback);
	test_assert_strcmp(e->reason, "Gmail's All Mail (\\All): only mail no "
			   "other folder has, into Archive: no local mailbox "
			   "has special_use \\Archive");
	e = find_entry(&plan, "[Gmail]/Starred");
	test_assert(e->action == FOLDER_PLAN_COUNT_ONLY);
	test_assert(!folder_plan_entry_is_imported(e) &&
		    folder_plan_entry_is_examined(e));
	test_assert(e->dest_name == NULL);
	test_assert(strstr(e->reason, "not copied") != NULL);
	e = find_entry(&plan, "[Gmail]/Important");
	test_assert(e->action == FOLDER_PLAN_COUNT_ONLY);
	test_assert(strstr(e->reason, "$Important") == NULL);
	test_assert(find_entry(&plan, "Work")->action == FOLDER_PLAN_COPY);
	test_assert_strcmp(find_entry(&plan, "[Gmail]/Sent Mail")->dest_name, "Sent");
	test_assert_strcmp(find_entry(&plan, "[Gmail]/Spam")->dest_name, "Junk");

	/* real folders first, \All last, whatever the listing order */
	t_array_init(&order, 8);
	folder_plan_import_order(&plan, &order);
	i = 0;
	array_foreach_elem(&order, idx) {
		e = array_idx(&plan, idx);
		if (!folder_plan_entry_is_examined(e))
			continue;
		test_assert_idx(i < N_ELEMENTS(expected_order) &&
				strcmp(e->remote->remote_name,
				       expected_order[i]) == 0, i);
		i++;
	}
	test_assert(i == N_ELEMENTS(expected_order));
	test_end();

	test_begin("folder plan: Gmail, a label called Archive, no local \\Archive");
	plan_init(&set);
	set.gmail = TRUE;
	add_gmail_layout("[Gmail]");
	add_remote("Archive", '/', FALSE, 0);
	add_remote("All Mail", '/', FALSE, 0);
	folder_plan_build(pool, &set, &remote, &plan);
	test_assert_strcmp(find_entry(&plan, "Archive")->dest_name, "Archive");
	test_assert_strcmp(find_entry(&plan, "All Mail")->dest_name, "All Mail");
	e = find_entry(&plan, "[Gmail]/All Mail");
	test_assert_strcmp(e->dest_name, "All Mail 2");
	test_assert_strcmp(e->reason, "Gmail's All Mail (\\All): only mail no "
			   "other folder has, into All Mail 2: no local mailbox "
			   "has special_use \\Archive, and the label Archive "
			   "lands in Archive");
	/* with a local \\Archive mailbox, All Mail lands in it */
	plan_init(&set);
	set.gmail = TRUE;
	set.local_special[FOLDER_SPECIAL_USE_ARCHIVE] = "Archives";
	add_gmail_layout("[Gmail]");
	add_remote("Archive", '/', FALSE, 0);
	folder_plan_build(pool, &set, &remote, &plan);
	test_assert_strcmp(find_entry(&plan, "[Gmail]/All Mail")->dest_name,
			   "Archives");
	test_end();

	test_begin("folder plan: Gmail's labels, a local \\Archive, X-GM-LABELS");
	plan_init(&set);
	set.gmail = TRUE;
	set.gmail_labels = TRUE;
	set.local_special[FOLDER_SPECIAL_USE_ARCHIVE] = "Old mail";
	add_gmail_layout("[Gmail]");
	folder_plan_build(pool, &set, &remote, &plan);
	e = find_entry(&plan, "[Gmail]/All Mail");
	test_assert_strcmp(e->dest_name, "Old mail");
	test_assert(!e->special_use_fallback);
	test_assert_strcmp(e->reason, "Gmail's All Mail (\\All): only mail no "
			   "other folder has, into the local \\Archive mailbox");
	test_assert(strstr(find_entry(&plan, "[Gmail]/Important")->reason,
			   "$Important") != NULL);

	/* the labels of the folders copied as folders */
	labels = folder_plan_copied_labels(pool, &plan);
	test_assert(folder_plan_labels_contain(labels, "\\Inbox"));
	test_assert(folder_plan_labels_contain(labels, "\\INBOX"));
	test_assert(folder_plan_labels_contain(labels, "\\Sent"));
	test_assert(folder_plan_labels_contain(labels, "\\Spam"));
	test_assert(folder_plan_labels_contain(labels, "Work"));
	/* the user's own labels match exactly */
	test_assert(!folder_plan_labels_contain(labels, "work"));
	/* aggregates are not copied as folders: their mail comes from All
	   Mail, which itself is no label */
	test_assert(!folder_plan_labels_contain(labels, "\\Important"));
	test_assert(!folder_plan_labels_contain(labels, "\\Starred"));
	test_assert(!folder_plan_labels_contain(labels, "[Gmail]/All Mail"));
	test_assert(!folder_plan_labels_contain(labels, "\\Draft"));
	folder_plan_labels_free(&labels);
	test_assert(labels == NULL);
	test_end();

	test_begin("folder plan: Gmail's labels under --dest-parent");
	plan_init(&set);
	set.gmail = TRUE;
	set.dest_parent = "Gmail";
	add_gmail_layout("[Gmail]");
	folder_plan_build(pool, &set, &remote, &plan);
	e = find_entry(&plan, "[Gmail]/All Mail");
	test_assert(e->action == FOLDER_PLAN_COPY_REMAINING);
	test_assert_strcmp(e->dest_name, "Gmail/[Gmail]/All Mail");
	test_assert_strcmp(e->reason, "Gmail's All Mail (\\All): only mail no "
			   "other folder has");
	test_assert(find_entry(&plan, "[Gmail]/Starred")->dest_name == NULL);
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
	test_assert_strcmp(find_entry(&plan, "a.b")->reason, "under --dest-parent");
	test_end();
}

static void test_plan_name_too_long(void)
{
	struct folder_plan_settings set;
	ARRAY_TYPE(folder_plan_entry) plan;
	struct remote_folder *rf;
	const struct folder_plan_entry *e;

	test_begin("folder plan: a name too long is named, not imported");
	plan_init(&set);
	add_remote("INBOX", '/', FALSE, 0);
	/* the list kept only its start (import-run.c) */
	rf = array_append_space(&remote);
	rf->remote_name = "Lxxxxxxxxx\x1bxxxx";
	rf->separator = '/';
	rf->name_too_long = TRUE;
	folder_plan_build(pool, &set, &remote, &plan);
	e = array_idx(&plan, 1);
	test_assert(e->error != NULL && strstr(e->error, "longer than") != NULL);
	test_assert(e->dest_name == NULL);
	test_assert(!folder_plan_entry_is_examined(e));
	test_assert(strchr(e->display_name, '\x1b') == NULL);
	test_assert(folder_plan_entry_is_imported(array_idx(&plan, 0)));
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
	test_assert(folder_special_use_parse("\\Important") ==
		    FOLDER_SPECIAL_USE_IMPORTANT);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_plan_prefix_and_separator,
		test_plan_names_kept,
		test_plan_special_use,
		test_plan_patterns_and_parent,
		test_plan_gmail,
		test_plan_name_too_long,
		test_special_use_parse,
		NULL
	};
	int ret = test_run(test_functions);

	pool_unref(&pool);
	return ret;
}
