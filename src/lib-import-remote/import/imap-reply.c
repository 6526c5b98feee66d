/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "str-sanitize.h"
#include "imap-arg.h"
#include "imap-date.h"
#include "imap-util.h"
#include "imap-reply.h"

/* Longer server text is cut (a CAPABILITY code fits easily) */
#define IMAP_REPLY_MAX_TEXT_CHARS 4096

/* The text of a status reply's arguments, response code included: with
   IMAP_PARSE_FLAG_SERVER_TEXT a response code comes as its own atom before
   the rest of the text. It goes into logs, error details and output lines:
   sanitized here, once (control characters replaced, at most
   IMAP_REPLY_MAX_TEXT_CHARS characters). */
static const char *imap_reply_args_text(const struct imap_arg *args)
{
	string_t *str = t_str_new(128);
	const char *text;

	for (; args->type != IMAP_ARG_EOL; args++) {
		if (!imap_arg_get_astring(args, &text) || text[0] == '\0')
			continue;
		if (str_len(str) > 0)
			str_append_c(str, ' ');
		str_append(str, text);
	}
	return str_sanitize_utf8(str_c(str), IMAP_REPLY_MAX_TEXT_CHARS);
}

void imap_reply_split_resp_code(const char *text, const char **code_r,
				const char **code_arg_r)
{
	const char *p, *end;

	*code_r = "";
	*code_arg_r = "";
	if (text[0] != '[')
		return;
	end = strchr(text, ']');
	if (end == NULL)
		return;
	for (p = text + 1; p < end && *p != ' '; p++) ;
	*code_r = t_str_ucase(t_strdup_until(text + 1, p));
	if (p < end)
		*code_arg_r = t_strdup_until(p + 1, end);
}

void imap_reply_parse_resp_text(enum imap_source_reply_state state,
				const char *text,
				struct imap_source_reply *reply_r)
{
	const char *code_arg;

	i_zero(reply_r);
	reply_r->state = state;
	reply_r->text = text;
	imap_reply_split_resp_code(text, &reply_r->resp_code, &code_arg);
}

bool imap_reply_parse_tagged(const struct imap_arg *args,
			     struct imap_source_reply *reply_r)
{
	enum imap_source_reply_state state;
	const char *name;

	if (!imap_arg_get_atom(&args[0], &name))
		return FALSE;
	if (strcasecmp(name, "OK") == 0)
		state = IMAP_SOURCE_REPLY_OK;
	else if (strcasecmp(name, "NO") == 0)
		state = IMAP_SOURCE_REPLY_NO;
	else
		state = IMAP_SOURCE_REPLY_BAD;
	imap_reply_parse_resp_text(state, imap_reply_args_text(&args[1]),
				   reply_r);
	return TRUE;
}

static bool imap_reply_get_uint32(const struct imap_arg *arg, uint32_t *num_r)
{
	const char *atom;

	return imap_arg_get_atom(arg, &atom) && str_to_uint32(atom, num_r) == 0;
}

static void imap_reply_parse_capability(const struct imap_arg *args,
					struct imap_reply *reply)
{
	ARRAY_TYPE(const_string) names;
	const char *atom;

	t_array_init(&names, 32);
	for (; args->type != IMAP_ARG_EOL; args++) {
		if (imap_arg_get_atom(args, &atom))
			array_push_back(&names, &atom);
	}
	array_append_zero(&names);
	reply->capabilities = array_front(&names);
	reply->type = IMAP_REPLY_CAPABILITY;
}

/* (("prefix" "sep") ...) NIL NIL: the first personal namespace */
static void imap_reply_parse_namespace(const struct imap_arg *args,
				       struct imap_reply *reply)
{
	struct imap_reply_namespace *ns = &reply->namespace_;
	const struct imap_arg *personal, *first;
	const char *sep;

	reply->type = IMAP_REPLY_NAMESPACE;
	if (!imap_arg_get_list(&args[0], &personal) ||
	    !imap_arg_get_list(&personal[0], &first) ||
	    !imap_arg_get_astring(&first[0], &ns->prefix))
		return;
	ns->have_personal = TRUE;
	if (imap_arg_get_nstring(&first[1], &sep) && sep != NULL &&
	    strlen(sep) == 1)
		ns->separator = sep[0];
}

static void imap_reply_parse_list(const struct imap_arg *args, bool lsub,
				  struct imap_reply *reply)
{
	struct imap_reply_list *list = &reply->list;
	const struct imap_arg *flags;
	const char *flag, *sep;

	if (!imap_arg_get_list(&args[0], &flags) ||
	    !imap_arg_get_nstring(&args[1], &sep) ||
	    !imap_arg_get_astring(&args[2], &list->mailbox))
		return;
	list->lsub = lsub;
	list->separator = sep == NULL ? '\0' : sep[0];
	for (; flags->type != IMAP_ARG_EOL; flags++) {
		if (!imap_arg_get_atom(flags, &flag))
			continue;
		if (strcasecmp(flag, "\\Noselect") == 0 ||
		    strcasecmp(flag, "\\NonExistent") == 0)
			list->noselect = TRUE;
		else if (strcasecmp(flag, "\\Subscribed") == 0)
			list->subscribed = TRUE;
		else if (strcasecmp(flag, "\\Inbox") == 0)
			; /* XLIST's name for INBOX */
		else if (list->special_use == FOLDER_SPECIAL_USE_NONE)
			list->special_use = folder_special_use_parse(flag);
	}
	reply->type = IMAP_REPLY_LIST;
}

/* mailbox (key value ...) */
static void imap_reply_parse_status(const struct imap_arg *args,
				    struct imap_reply *reply)
{
	struct imap_reply_status *status = &reply->status;
	const struct imap_arg *list;
	const char *key;
	unsigned int i;

	if (!imap_arg_get_astring(&args[0], &status->mailbox) ||
	    !imap_arg_get_list(&args[1], &list))
		return;
	for (i = 0; list[i].type != IMAP_ARG_EOL &&
		    list[i+1].type != IMAP_ARG_EOL; i += 2) {
		if (!imap_arg_get_atom(&list[i], &key))
			continue;
		if (strcasecmp(key, "MESSAGES") == 0 &&
		    imap_reply_get_uint32(&list[i+1], &status->messages))
			status->have_messages = TRUE;
		else if (strcasecmp(key, "UIDNEXT") == 0 &&
			 !imap_reply_get_uint32(&list[i+1], &status->uidnext))
			status->uidnext = 0;
		else if (strcasecmp(key, "UIDVALIDITY") == 0 &&
			 !imap_reply_get_uint32(&list[i+1], &status->uidvalidity))
			status->uidvalidity = 0;
	}
	reply->type = IMAP_REPLY_STATUS;
}

static void imap_reply_parse_search(const struct imap_arg *args,
				    struct imap_reply *reply)
{
	ARRAY_TYPE(uint32_t) numbers;
	uint32_t num;

	t_array_init(&numbers, 64);
	for (; args->type != IMAP_ARG_EOL; args++) {
		if (imap_reply_get_uint32(args, &num))
			array_push_back(&numbers, &num);
	}
	reply->search.numbers = array_get(&numbers, &reply->search.count);
	reply->type = IMAP_REPLY_SEARCH;
}

/* [(TAG "x")] [UID] MIN n ... */
static void imap_reply_parse_esearch(const struct imap_arg *args,
				     struct imap_reply *reply)
{
	for (; args->type != IMAP_ARG_EOL &&
	       args[1].type != IMAP_ARG_EOL; args++) {
		if (imap_arg_atom_equals(&args[0], "MIN") &&
		    imap_reply_get_uint32(&args[1], &reply->esearch.min))
			reply->esearch.have_min = TRUE;
	}
	reply->type = IMAP_REPLY_ESEARCH;
}

static void imap_reply_parse_flags(const struct imap_arg *args,
				   struct imap_reply_fetch *fetch)
{
	ARRAY_TYPE(const_string) keywords;
	const char *flag;

	t_array_init(&keywords, 4);
	for (; args->type != IMAP_ARG_EOL; args++) {
		if (!imap_arg_get_atom(args, &flag))
			continue;
		if (flag[0] == '\\')
			fetch->flags |= imap_parse_system_flag(flag);
		else
			array_push_back(&keywords, &flag);
	}
	fetch->flags &= ENUM_NEGATE(MAIL_RECENT);
	if (array_count(&keywords) > 0) {
		array_append_zero(&keywords);
		fetch->keywords = array_front(&keywords);
	}
	fetch->have_flags = TRUE;
}

/* X-GM-LABELS (label ...): atoms ("\Inbox") and strings */
static void imap_reply_parse_gm_labels(const struct imap_arg *args,
				       struct imap_reply_fetch *fetch)
{
	ARRAY_TYPE(const_string) labels;
	const char *label;

	t_array_init(&labels, 8);
	for (; args->type != IMAP_ARG_EOL; args++) {
		if (imap_arg_get_astring(args, &label))
			array_push_back(&labels, &label);
	}
	array_append_zero(&labels);
	fetch->gm_labels = array_front(&labels);
	fetch->have_gm_labels = TRUE;
}

/* "BODY[HEADER.FIELDS (MESSAGE-ID)] value": the section is an atom, a list
   and an atom "]" before the value. Returns how many args it took. */
static unsigned int
imap_reply_parse_header_fields(const struct imap_arg *args,
			       struct imap_reply_fetch *fetch)
{
	const char *value;

	if (args[0].type == IMAP_ARG_EOL ||
	    !imap_arg_atom_equals(&args[1], "]") ||
	    args[2].type == IMAP_ARG_EOL)
		return 0;
	if (!imap_arg_get_nstring(&args[2], &value))
		return 0;
	fetch->have_header_fields = TRUE;
	if (value != NULL) {
		fetch->header_fields = (const unsigned char *)value;
		fetch->header_fields_size = args[2].str_len;
	}
	return 3;
}

/* (key value ...) */
static void imap_reply_parse_fetch(const struct imap_arg *args,
				   struct imap_reply *reply)
{
	struct imap_reply_fetch *fetch = &reply->fetch;
	const struct imap_arg *list, *flags;
	const char *key, *value;
	unsigned int i, n;

	if (!imap_arg_get_list(&args[0], &list))
		return;
	reply->type = IMAP_REPLY_FETCH;
	for (i = 0; list[i].type != IMAP_ARG_EOL &&
		    list[i+1].type != IMAP_ARG_EOL; i += 2) {
		if (!imap_arg_get_atom(&list[i], &key)) {
			reply->type = IMAP_REPLY_OTHER;
			return;
		}
		if (strcasecmp(key, "UID") == 0) {
			if (!imap_reply_get_uint32(&list[i+1], &fetch->uid))
				fetch->uid = 0;
		} else if (strcasecmp(key, "RFC822.SIZE") == 0) {
			if (imap_arg_get_atom(&list[i+1], &value) &&
			    str_to_uoff(value, &fetch->size) == 0)
				fetch->have_size = TRUE;
		} else if (strcasecmp(key, "INTERNALDATE") == 0) {
			if (imap_arg_get_astring(&list[i+1], &value) &&
			    imap_parse_datetime(value, &fetch->internaldate,
						&fetch->internaldate_tz_offset))
				fetch->have_internaldate = TRUE;
		} else if (strcasecmp(key, "FLAGS") == 0) {
			if (imap_arg_get_list(&list[i+1], &flags))
				imap_reply_parse_flags(flags, fetch);
		} else if (strcasecmp(key, "X-GM-LABELS") == 0) {
			if (imap_arg_get_list(&list[i+1], &flags))
				imap_reply_parse_gm_labels(flags, fetch);
		} else if (strcasecmp(key, "BODY[HEADER.FIELDS") == 0) {
			n = imap_reply_parse_header_fields(&list[i+1], fetch);
			if (n == 0) {
				reply->type = IMAP_REPLY_OTHER;
				return;
			}
			i += n - 1;
		} else if (strcasecmp(key, "BODY[HEADER]") == 0) {
			if (imap_arg_get_string(&list[i+1], &value)) {
				fetch->have_header = TRUE;
				fetch->header = (const unsigned char *)value;
				fetch->header_size = list[i+1].str_len;
			}
		}
	}
}

void imap_reply_parse_untagged(const struct imap_arg *args,
			       struct imap_reply *reply_r)
{
	const char *atom, *name;

	i_zero(reply_r);
	reply_r->name = "";
	if (!imap_arg_get_atom(&args[0], &atom))
		return;
	if (str_to_uint32(atom, &reply_r->num) == 0 &&
	    imap_arg_get_atom(&args[1], &name))
		args += 2;
	else {
		reply_r->num = 0;
		name = atom;
		args++;
	}
	reply_r->name = name;

	if (strcasecmp(name, "OK") == 0 || strcasecmp(name, "NO") == 0 ||
	    strcasecmp(name, "BAD") == 0 || strcasecmp(name, "BYE") == 0 ||
	    strcasecmp(name, "PREAUTH") == 0) {
		reply_r->type = IMAP_REPLY_RESP;
		reply_r->resp.state = t_str_ucase(name);
		reply_r->resp.text = imap_reply_args_text(args);
		imap_reply_split_resp_code(reply_r->resp.text,
					   &reply_r->resp.code,
					   &reply_r->resp.code_arg);
	} else if (strcasecmp(name, "CAPABILITY") == 0)
		imap_reply_parse_capability(args, reply_r);
	else if (strcasecmp(name, "NAMESPACE") == 0)
		imap_reply_parse_namespace(args, reply_r);
	else if (strcasecmp(name, "LIST") == 0 ||
		 strcasecmp(name, "XLIST") == 0)
		imap_reply_parse_list(args, FALSE, reply_r);
	else if (strcasecmp(name, "LSUB") == 0)
		imap_reply_parse_list(args, TRUE, reply_r);
	else if (strcasecmp(name, "STATUS") == 0)
		imap_reply_parse_status(args, reply_r);
	else if (strcasecmp(name, "EXISTS") == 0)
		reply_r->type = IMAP_REPLY_EXISTS;
	else if (strcasecmp(name, "SEARCH") == 0)
		imap_reply_parse_search(args, reply_r);
	else if (strcasecmp(name, "ESEARCH") == 0)
		imap_reply_parse_esearch(args, reply_r);
	else if (strcasecmp(name, "FETCH") == 0 && reply_r->num != 0)
		imap_reply_parse_fetch(args, reply_r);
}

bool imap_reply_parse_fetch_literal(const struct imap_arg *args,
				    uoff_t size,
				    struct imap_reply_fetch_literal *lit_r)
{
	const struct imap_arg *list;
	const char *atom, *key;
	unsigned int i, count;
	uint32_t uid;

	i_zero(lit_r);
	lit_r->size = size;
	if (!imap_reply_get_uint32(&args[0], &lit_r->seq) ||
	    !imap_arg_get_atom(&args[1], &atom) ||
	    strcasecmp(atom, "FETCH") != 0 ||
	    !imap_arg_get_list(&args[2], &list))
		return FALSE;
	/* the literal the parser stopped at is the list's last element,
	   and the list the line's last argument; its key comes just before.
	   (A literal anywhere else is not a FETCH item: the parser reads it,
	   bounded. Taking it for one left the parser at it for ever.) */
	for (count = 0; list[count].type != IMAP_ARG_EOL; count++) ;
	if (args[3].type != IMAP_ARG_EOL || count < 2 ||
	    (list[count-1].type != IMAP_ARG_LITERAL_SIZE &&
	     list[count-1].type != IMAP_ARG_LITERAL_SIZE_NONSYNC) ||
	    !imap_arg_get_atom(&list[count-2], &key))
		return FALSE;
	if (strcasecmp(key, "BODY[]") == 0)
		lit_r->section = IMAP_FETCH_SECTION_BODY;
	else if (strncasecmp(key, "BODY[]<", 7) == 0 &&
		 key[strlen(key) - 1] == '>' &&
		 str_to_uoff(t_strndup(key + 7, strlen(key) - 8),
			     &lit_r->origin) == 0) {
		/* a partial fetch's answer */
		lit_r->section = IMAP_FETCH_SECTION_BODY;
		lit_r->have_origin = TRUE;
	} else if (strcasecmp(key, "BODY[HEADER]") == 0)
		lit_r->section = IMAP_FETCH_SECTION_HEADER;
	/* the UID, if it came before the literal */
	for (i = 0; i + 1 < count - 2; i += 2) {
		if (imap_arg_get_atom(&list[i], &key) &&
		    strcasecmp(key, "UID") == 0 &&
		    imap_reply_get_uint32(&list[i+1], &uid))
			lit_r->uid = uid;
	}
	return TRUE;
}
