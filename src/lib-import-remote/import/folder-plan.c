/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "hash.h"
#include "str.h"
#include "str-sanitize.h"
#include "unichar.h"
#include "imap-utf7.h"
#include "imap-match.h"
#include "folder-plan.h"

static const char *special_use_flags[FOLDER_SPECIAL_USE_COUNT] = {
	[FOLDER_SPECIAL_USE_NONE] = "",
	[FOLDER_SPECIAL_USE_SENT] = "\\Sent",
	[FOLDER_SPECIAL_USE_DRAFTS] = "\\Drafts",
	[FOLDER_SPECIAL_USE_TRASH] = "\\Trash",
	[FOLDER_SPECIAL_USE_JUNK] = "\\Junk",
	[FOLDER_SPECIAL_USE_ARCHIVE] = "\\Archive",
	[FOLDER_SPECIAL_USE_ALL] = "\\All",
	[FOLDER_SPECIAL_USE_FLAGGED] = "\\Flagged",
	[FOLDER_SPECIAL_USE_IMPORTANT] = "\\Important",
};

/* Where a special-use folder lands when the user has no mailbox of that
   use: the name mail clients and Dovecot's example configuration use */
static const char *const special_use_usual_names[FOLDER_SPECIAL_USE_COUNT] = {
	[FOLDER_SPECIAL_USE_SENT] = "Sent",
	[FOLDER_SPECIAL_USE_DRAFTS] = "Drafts",
	[FOLDER_SPECIAL_USE_TRASH] = "Trash",
	[FOLDER_SPECIAL_USE_JUNK] = "Junk",
	[FOLDER_SPECIAL_USE_ARCHIVE] = "Archive",
};

/* Gmail's top-level parent of its own folders ("[Google Mail]" in the UK
   and Germany) */
static const char *const gmail_parents[] = { "[Gmail]", "[Google Mail]" };

/* Gmail's labels of its special-use folders (X-GM-LABELS) */
static const char *const gmail_system_labels[FOLDER_SPECIAL_USE_COUNT] = {
	[FOLDER_SPECIAL_USE_SENT] = "\\Sent",
	[FOLDER_SPECIAL_USE_DRAFTS] = "\\Draft",
	[FOLDER_SPECIAL_USE_TRASH] = "\\Trash",
	[FOLDER_SPECIAL_USE_JUNK] = "\\Spam",
	[FOLDER_SPECIAL_USE_FLAGGED] = "\\Starred",
	[FOLDER_SPECIAL_USE_IMPORTANT] = "\\Important",
};

struct folder_plan_labels {
	/* Gmail's own labels in lower case, the user's as they are */
	HASH_TABLE(const char *, const char *) labels;
};

/* Well-known top-level names of servers that don't announce special-use
   (old Exchange, Courier, cPanel setups). Used only when the server marks
   no folder at all. */
static const struct {
	const char *name;
	enum folder_special_use use;
} special_use_names[] = {
	{ "Sent", FOLDER_SPECIAL_USE_SENT },
	{ "Sent Items", FOLDER_SPECIAL_USE_SENT },
	{ "Sent Messages", FOLDER_SPECIAL_USE_SENT },
	{ "Sent Mail", FOLDER_SPECIAL_USE_SENT },
	{ "Drafts", FOLDER_SPECIAL_USE_DRAFTS },
	{ "Trash", FOLDER_SPECIAL_USE_TRASH },
	{ "Deleted Items", FOLDER_SPECIAL_USE_TRASH },
	{ "Deleted Messages", FOLDER_SPECIAL_USE_TRASH },
	{ "Junk", FOLDER_SPECIAL_USE_JUNK },
	{ "Junk E-mail", FOLDER_SPECIAL_USE_JUNK },
	{ "Junk Email", FOLDER_SPECIAL_USE_JUNK },
	{ "Spam", FOLDER_SPECIAL_USE_JUNK },
	{ "Archive", FOLDER_SPECIAL_USE_ARCHIVE },
};

enum folder_special_use folder_special_use_parse(const char *flag)
{
	unsigned int i;

	for (i = 1; i < FOLDER_SPECIAL_USE_COUNT; i++) {
		if (strcasecmp(flag, special_use_flags[i]) == 0)
			return i;
	}
	return FOLDER_SPECIAL_USE_NONE;
}

const char *folder_special_use_flag(enum folder_special_use use)
{
	i_assert(use < FOLDER_SPECIAL_USE_COUNT);
	return special_use_flags[use];
}

static enum folder_special_use special_use_by_name(const char *name)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(special_use_names); i++) {
		if (strcasecmp(name, special_use_names[i].name) == 0)
			return special_use_names[i].use;
	}
	return FOLDER_SPECIAL_USE_NONE;
}

static bool str_has_8bit(const char *str)
{
	for (; *str != '\0'; str++) {
		if ((unsigned char)*str >= 0x80)
			return TRUE;
	}
	return FALSE;
}

/* Decode the server's modified UTF-7 name. Servers with UTF8=ACCEPT may
   send raw UTF-8, which is kept when it is valid. */
static const char *remote_name_decode(const char *name, const char **error_r)
{
	string_t *str = t_str_new(strlen(name) + 16);

	if (str_has_8bit(name)) {
		if (uni_utf8_str_is_valid(name))
			return name;
	} else if (imap_utf7_to_utf8(name, str) == 0) {
		return str_c(str);
	}
	*error_r = "The folder name is neither modified UTF-7 nor UTF-8";
	return NULL;
}

static bool folder_name_has_control_chars(const char *name)
{
	for (; *name != '\0'; name++) {
		if ((unsigned char)*name < 0x20 || *name == 0x7f)
			return TRUE;
	}
	return FALSE;
}

static bool name_is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

static bool
patterns_match(const char *const *patterns, const char *name)
{
	struct imap_match_glob *glob;
	bool match = FALSE;

	if (patterns == NULL)
		return FALSE;
	for (; *patterns != NULL && !match; patterns++) {
		glob = imap_match_init(pool_datastack_create(), *patterns,
				       TRUE, '/');
		match = imap_match(glob, name) == IMAP_MATCH_YES;
	}
	return match;
}

static void
folder_plan_map(const struct folder_plan_settings *set,
		struct folder_plan_entry *entry, const char *name,
		bool prefix_dropped, pool_t pool);

static void
folder_plan_translate(const struct folder_plan_settings *set,
		      struct folder_plan_entry *entry, pool_t pool)
{
	const struct remote_folder *rf = entry->remote;
	const char *name, *error = NULL, *const *parts;
	string_t *display, *dest;
	size_t prefix_len = strlen(set->ns_prefix);
	bool prefix_dropped = FALSE;
	unsigned int i;

	if (rf->name_too_long) {
		entry->display_name = p_strdup_printf(pool, "%s...",
			str_sanitize(rf->remote_name, 64));
		entry->error = p_strdup_printf(pool, "its name is longer than "
			"%u bytes", FOLDER_PLAN_MAX_NAME_LENGTH);
		return;
	}
	name = rf->remote_name;
	/* drop the personal namespace prefix ("INBOX." → "") */
	if (prefix_len > 0 && strncmp(name, set->ns_prefix, prefix_len) == 0 &&
	    name[prefix_len] != '\0') {
		name += prefix_len;
		prefix_dropped = TRUE;
	}

	name = remote_name_decode(name, &error);
	if (name == NULL) {
		entry->display_name = p_strdup(pool, rf->remote_name);
		entry->error = p_strdup(pool, error);
		return;
	}

	if (rf->separator != '\0') {
		const char sep[2] = { rf->separator, '\0' };
		parts = t_strsplit(name, sep);
	} else {
		const char **flat = t_new(const char *, 2);
		flat[0] = name;
		parts = flat;
	}

	display = t_str_new(128);
	dest = t_str_new(128);
	for (i = 0; parts[i] != NULL; i++) {
		if (i > 0) {
			str_append_c(display, '/');
			str_append_c(dest, set->local_separator);
		}
		if (parts[i][0] == '\0' && error == NULL)
			error = "The folder name has an empty level";
		else if (folder_name_has_control_chars(parts[i]) &&
			 error == NULL) {
			/* Dovecot refuses them, and they would reach logs
			   and output as they are */
			error = "The folder name contains control characters "
				"(a line break, an escape), which local "
				"storage cannot hold";
		} else if (strchr(parts[i], set->local_separator) != NULL &&
			 error == NULL) {
			error = t_strdup_printf(
				"The folder name contains the local hierarchy "
				"separator '%c', which local storage cannot hold "
				"in a name", set->local_separator);
		}
		if (i == 0 && parts[1] == NULL && name_is_inbox(parts[i]))
			str_append(dest, "INBOX");
		else
			str_append(dest, parts[i]);
		str_append(display, parts[i]);
	}
	entry->display_name = p_strdup(pool, str_c(display));
	if (error != NULL) {
		entry->error = p_strdup(pool, error);
		return;
	}
	folder_plan_map(set, entry, str_c(dest), prefix_dropped, pool);
}

static const char *
folder_plan_special_use_text(const struct folder_plan_entry *entry,
			     bool by_name)
{
	const char *flag = folder_special_use_flag(entry->special_use);

	return by_name ? t_strdup_printf("%s (by its name: the server marks no "
					 "folder)", flag) : flag;
}

/* Where a translated name lands, and why */
static void
folder_plan_map(const struct folder_plan_settings *set,
		struct folder_plan_entry *entry, const char *name,
		bool prefix_dropped, pool_t pool)
{
	const struct remote_folder *rf = entry->remote;
	enum folder_special_use use = entry->special_use;
	bool by_name = use != rf->special_use;
	const char *reason = "", *missing = NULL;

	entry->special_use_fallback = FALSE;

	if (entry->action == FOLDER_PLAN_COUNT_ONLY) {
		entry->dest_name = NULL;
		entry->reason = use == FOLDER_SPECIAL_USE_FLAGGED ?
			"not copied: Gmail's stars are the \\Flagged flag of "
			"each message" :
			!set->gmail_labels ?
			"not copied: Gmail's Important label (\\Important)" :
			"not copied: Gmail's Important label (\\Important); "
			"its messages get the $Important keyword";
		return;
	}
	if (entry->action == FOLDER_PLAN_COPY_REMAINING)
		use = FOLDER_SPECIAL_USE_ARCHIVE;

	if (set->dest_parent != NULL && set->dest_parent[0] != '\0') {
		entry->dest_name = p_strdup_printf(pool, "%s%c%s",
			set->dest_parent, set->local_separator, name);
		reason = "under --dest-parent";
	} else if (use != FOLDER_SPECIAL_USE_NONE &&
		   set->local_special[use] != NULL) {
		entry->dest_name = p_strdup(pool, set->local_special[use]);
		reason = folder_plan_special_use_text(entry, by_name);
	} else if (use != FOLDER_SPECIAL_USE_NONE &&
		   special_use_usual_names[use] != NULL) {
		/* never silently under the remote name */
		entry->dest_name = p_strdup(pool, special_use_usual_names[use]);
		missing = folder_special_use_flag(use);
		entry->special_use_fallback = TRUE;
		reason = t_strdup_printf("%s, into %s: no local mailbox has "
					 "special_use %s",
					 folder_plan_special_use_text(entry, by_name),
					 entry->dest_name, missing);
	} else {
		entry->dest_name = p_strdup(pool, name);
		if (use != FOLDER_SPECIAL_USE_NONE)
			reason = folder_plan_special_use_text(entry, by_name);
		else if (prefix_dropped) {
			reason = t_strdup_printf("namespace prefix %s dropped",
						 set->ns_prefix);
		}
	}
	if (entry->action == FOLDER_PLAN_COPY_REMAINING) {
		reason = t_strconcat("Gmail's All Mail (\\All): only mail no "
			"other folder has",
			set->dest_parent != NULL && set->dest_parent[0] != '\0' ? "" :
			missing != NULL ? t_strdup_printf(", into %s: no local "
				"mailbox has special_use %s", entry->dest_name,
				missing) :
			", into the local \\Archive mailbox", NULL);
	}
	entry->reason = p_strdup(pool, reason);
}

static bool folder_plan_is_gmail_parent(const char *name, const char *ns_prefix,
					char separator)
{
	size_t prefix_len = strlen(ns_prefix), len;
	unsigned int i;

	if (prefix_len > 0 && strncmp(name, ns_prefix, prefix_len) == 0)
		name += prefix_len;
	for (i = 0; i < N_ELEMENTS(gmail_parents); i++) {
		len = strlen(gmail_parents[i]);
		if (strncmp(name, gmail_parents[i], len) == 0 &&
		    (name[len] == '\0' ||
		     (separator != '\0' && name[len] == separator)))
			return TRUE;
	}
	return FALSE;
}

bool folder_plan_is_gmail(const ARRAY_TYPE(remote_folder) *remote_folders,
			  const char *ns_prefix)
{
	const struct remote_folder *rf;
	bool all = FALSE, parent = FALSE;

	array_foreach(remote_folders, rf) {
		if (rf->special_use == FOLDER_SPECIAL_USE_ALL)
			all = TRUE;
		if (folder_plan_is_gmail_parent(rf->remote_name, ns_prefix,
						rf->separator))
			parent = TRUE;
	}
	return all && parent;
}

static enum folder_plan_action
folder_plan_action(const struct folder_plan_settings *set,
		   enum folder_special_use use)
{
	if (!set->gmail)
		return FOLDER_PLAN_COPY;
	switch (use) {
	case FOLDER_SPECIAL_USE_ALL:
		return FOLDER_PLAN_COPY_REMAINING;
	case FOLDER_SPECIAL_USE_FLAGGED:
	case FOLDER_SPECIAL_USE_IMPORTANT:
		return FOLDER_PLAN_COUNT_ONLY;
	default:
		return FOLDER_PLAN_COPY;
	}
}

/* The imported entry other than skip that lands in name, NULL if none */
static const struct folder_plan_entry *
folder_plan_find_dest(const ARRAY_TYPE(folder_plan_entry) *entries,
		      const struct folder_plan_entry *skip, const char *name)
{
	const struct folder_plan_entry *entry;

	array_foreach(entries, entry) {
		if (entry != skip && folder_plan_entry_is_imported(entry) &&
		    entry->dest_name != NULL &&
		    strcmp(entry->dest_name, name) == 0)
			return entry;
	}
	return NULL;
}

/* Gmail's All Mail lands in Archive when the user has no \Archive mailbox;
   when a label of the user's own lands there too ("Archive"), the mail no
   label has goes to a mailbox of its own ("All Mail"), never mixed into
   the label's folder without a word */
static void
folder_plan_keep_all_mail_apart(pool_t pool,
				ARRAY_TYPE(folder_plan_entry) *entries)
{
	struct folder_plan_entry *entry;
	const struct folder_plan_entry *label;
	const char *name;
	unsigned int n;

	array_foreach_modifiable(entries, entry) {
		if (entry->action != FOLDER_PLAN_COPY_REMAINING ||
		    !entry->special_use_fallback ||
		    !folder_plan_entry_is_imported(entry))
			continue;
		label = folder_plan_find_dest(entries, entry, entry->dest_name);
		if (label == NULL)
			continue;
		name = FOLDER_PLAN_GMAIL_ALL_MAIL_NAME;
		for (n = 2; folder_plan_find_dest(entries, entry, name) != NULL;
		     n++) {
			name = t_strdup_printf("%s %u",
				FOLDER_PLAN_GMAIL_ALL_MAIL_NAME, n);
		}
		entry->reason = p_strdup_printf(pool,
			"Gmail's All Mail (\\All): only mail no other folder "
			"has, into %s: no local mailbox has special_use "
			"\\Archive, and the label %s lands in %s",
			name, label->display_name, entry->dest_name);
		entry->dest_name = p_strdup(pool, name);
	}
}

void folder_plan_build(pool_t pool, const struct folder_plan_settings *set,
		       const ARRAY_TYPE(remote_folder) *remote_folders,
		       ARRAY_TYPE(folder_plan_entry) *entries_r)
{
	const struct remote_folder *rf;
	struct folder_plan_entry *entry;
	bool server_marks_special_use = FALSE;

	array_foreach(remote_folders, rf) {
		if (rf->special_use != FOLDER_SPECIAL_USE_NONE)
			server_marks_special_use = TRUE;
	}

	p_array_init(entries_r, pool, array_count(remote_folders));
	array_foreach(remote_folders, rf) T_BEGIN {
		entry = array_append_space(entries_r);
		entry->remote = rf;
		entry->noselect = rf->noselect;
		entry->special_use = rf->special_use;
		entry->action = folder_plan_action(set, rf->special_use);
		folder_plan_translate(set, entry, pool);
		if (!server_marks_special_use && entry->error == NULL &&
		    strchr(entry->display_name, '/') == NULL)
			entry->special_use = special_use_by_name(entry->display_name);
		if (entry->special_use != rf->special_use && entry->error == NULL) {
			/* name-based special use: translate again to map it */
			folder_plan_translate(set, entry, pool);
		}

		if (set->include != NULL && set->include[0] != NULL &&
		    !patterns_match(set->include, entry->display_name))
			entry->excluded = TRUE;
		if (patterns_match(set->exclude, entry->display_name))
			entry->excluded = TRUE;
	} T_END;
	if (set->gmail) T_BEGIN {
		folder_plan_keep_all_mail_apart(pool, entries_r);
	} T_END;
}

bool folder_plan_entry_is_examined(const struct folder_plan_entry *entry)
{
	return !entry->noselect && !entry->excluded && entry->error == NULL;
}

bool folder_plan_entry_is_imported(const struct folder_plan_entry *entry)
{
	return folder_plan_entry_is_examined(entry) &&
		entry->action != FOLDER_PLAN_COUNT_ONLY;
}

/* 0 = first */
static unsigned int
folder_plan_import_rank(const struct folder_plan_entry *entry)
{
	if (entry->error == NULL && name_is_inbox(entry->display_name))
		return 0;
	switch (entry->special_use) {
	case FOLDER_SPECIAL_USE_SENT:
	case FOLDER_SPECIAL_USE_DRAFTS:
	case FOLDER_SPECIAL_USE_TRASH:
	case FOLDER_SPECIAL_USE_JUNK:
	case FOLDER_SPECIAL_USE_ARCHIVE:
		return 1;
	case FOLDER_SPECIAL_USE_NONE:
		return 2;
	case FOLDER_SPECIAL_USE_FLAGGED:
	case FOLDER_SPECIAL_USE_IMPORTANT:
		return 3;
	case FOLDER_SPECIAL_USE_ALL:
		return 4;
	case FOLDER_SPECIAL_USE_COUNT:
		break;
	}
	i_unreached();
}

void folder_plan_import_order(const ARRAY_TYPE(folder_plan_entry) *entries,
			      ARRAY_TYPE(uint32_t) *order_r)
{
	const struct folder_plan_entry *entry;
	unsigned int rank;
	uint32_t idx;

	for (rank = 0; rank <= 4; rank++) {
		array_foreach(entries, entry) {
			if (folder_plan_import_rank(entry) != rank)
				continue;
			idx = array_foreach_idx(entries, entry);
			array_push_back(order_r, &idx);
		}
	}
}

/* Gmail's own labels ("\\Inbox") match whatever their case */
static const char *folder_plan_label_key(const char *label)
{
	return label[0] == '\\' ? t_str_lcase(label) : label;
}

static void folder_plan_labels_add(struct folder_plan_labels *labels,
				   pool_t pool, const char *label)
{
	const char *key = p_strdup(pool, folder_plan_label_key(label));

	hash_table_update(labels->labels, key, key);
}

struct folder_plan_labels *
folder_plan_copied_labels(pool_t pool,
			  const ARRAY_TYPE(folder_plan_entry) *entries)
{
	struct folder_plan_labels *labels;
	const struct folder_plan_entry *entry;
	const char *label;

	labels = p_new(pool, struct folder_plan_labels, 1);
	hash_table_create(&labels->labels, pool, 0, str_hash, strcmp);
	array_foreach(entries, entry) {
		if (!folder_plan_entry_is_imported(entry) ||
		    entry->action != FOLDER_PLAN_COPY)
			continue;
		if (name_is_inbox(entry->remote->remote_name))
			label = "\\Inbox";
		else {
			folder_plan_labels_add(labels, pool,
					       entry->remote->remote_name);
			label = gmail_system_labels[entry->special_use];
		}
		if (label != NULL)
			folder_plan_labels_add(labels, pool, label);
	}
	return labels;
}

bool folder_plan_labels_contain(struct folder_plan_labels *labels,
				const char *label)
{
	return hash_table_lookup(labels->labels,
				 folder_plan_label_key(label)) != NULL;
}

void folder_plan_labels_free(struct folder_plan_labels **_labels)
{
	struct folder_plan_labels *labels = *_labels;

	*_labels = NULL;
	hash_table_destroy(&labels->labels);
}
