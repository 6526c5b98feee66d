/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
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
folder_plan_translate(const struct folder_plan_settings *set,
		      struct folder_plan_entry *entry, pool_t pool)
{
	const struct remote_folder *rf = entry->remote;
	const char *name, *error = NULL, *const *parts;
	string_t *display, *dest;
	size_t prefix_len = strlen(set->ns_prefix);
	unsigned int i;

	name = rf->remote_name;
	/* drop the personal namespace prefix ("INBOX." → "") */
	if (prefix_len > 0 && strncmp(name, set->ns_prefix, prefix_len) == 0 &&
	    name[prefix_len] != '\0')
		name += prefix_len;

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

	if (set->dest_parent != NULL && set->dest_parent[0] != '\0') {
		entry->dest_name = p_strdup_printf(pool, "%s%c%s",
			set->dest_parent, set->local_separator, str_c(dest));
		return;
	}
	if (entry->special_use != FOLDER_SPECIAL_USE_NONE &&
	    set->local_special[entry->special_use] != NULL) {
		entry->dest_name = p_strdup(pool,
			set->local_special[entry->special_use]);
		return;
	}
	entry->dest_name = p_strdup(pool, str_c(dest));
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
}

bool folder_plan_entry_is_imported(const struct folder_plan_entry *entry)
{
	return !entry->noselect && !entry->excluded && entry->error == NULL;
}
