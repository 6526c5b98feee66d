#ifndef IMAP_REPLY_H
#define IMAP_REPLY_H

#include "mail-types.h"
#include "folder-plan.h"

/* The source server's replies as typed structures. This is the one place
   where lib-imap's imap_arg lists are read: the session hands these to its
   callers, who never see an imap_arg. Strings and arrays point into the
   parser's buffer or the data stack: they are valid during the callback
   that receives them (copy what you keep). Everything from the server is
   hostile: a field that does not parse is reported as absent. */

struct imap_arg;

/* A tagged reply */
enum imap_source_reply_state {
	IMAP_SOURCE_REPLY_OK,
	IMAP_SOURCE_REPLY_NO,
	IMAP_SOURCE_REPLY_BAD,
};

struct imap_source_reply {
	enum imap_source_reply_state state;
	/* response code key without brackets ("" if none), e.g. "OVERQUOTA" */
	const char *resp_code;
	/* full human-readable text, including the response code */
	const char *text;
};

enum imap_reply_type {
	/* none of the below, or one that does not parse */
	IMAP_REPLY_OTHER = 0,
	/* untagged OK, NO, BAD, BYE, PREAUTH */
	IMAP_REPLY_RESP,
	IMAP_REPLY_CAPABILITY,
	IMAP_REPLY_NAMESPACE,
	/* LIST, XLIST or LSUB */
	IMAP_REPLY_LIST,
	IMAP_REPLY_STATUS,
	IMAP_REPLY_EXISTS,
	IMAP_REPLY_SEARCH,
	IMAP_REPLY_ESEARCH,
	IMAP_REPLY_FETCH,
};

struct imap_reply_resp {
	/* "OK", "NO", "BAD", "BYE" or "PREAUTH" */
	const char *state;
	/* the response code without brackets, upper case, and its argument
	   ("" if none), e.g. "UIDVALIDITY" and "42" */
	const char *code, *code_arg;
	/* the whole text, response code included */
	const char *text;
};

struct imap_reply_list {
	/* exactly as the server sent it (modified UTF-7) */
	const char *mailbox;
	/* '\0' for NIL (a flat namespace) */
	char separator;
	bool lsub;
	/* \Noselect or \NonExistent */
	bool noselect;
	bool subscribed;
	/* the first special-use flag (\Sent, ...) */
	enum folder_special_use special_use;
};

struct imap_reply_status {
	const char *mailbox;
	bool have_messages;
	uint32_t messages;
	/* 0 if not given */
	uint32_t uidnext, uidvalidity;
};

struct imap_reply_namespace {
	/* the first personal namespace, if any */
	bool have_personal;
	const char *prefix;
	/* '\0' if NIL or not one character */
	char separator;
};

struct imap_reply_search {
	const uint32_t *numbers;
	unsigned int count;
};

struct imap_reply_esearch {
	bool have_min;
	uint32_t min;
};

struct imap_reply_fetch {
	/* 0 if not given */
	uint32_t uid;
	bool have_size;
	uoff_t size;
	bool have_internaldate;
	time_t internaldate;
	int internaldate_tz_offset;
	bool have_flags;
	/* system flags (without \Recent) and keywords (NULL-terminated, NULL
	   if none) */
	enum mail_flags flags;
	const char *const *keywords;
	/* BODY[HEADER.FIELDS (...)] value; NULL for NIL */
	bool have_header_fields;
	const unsigned char *header_fields;
	size_t header_fields_size;
	/* BODY[HEADER] sent as a quoted string (a literal one is streamed) */
	bool have_header;
	const unsigned char *header;
	size_t header_size;
	/* Gmail's X-GM-LABELS: the message's labels as sent (modified UTF-7
	   names, or system labels such as "\Inbox"), NULL-terminated */
	bool have_gm_labels;
	const char *const *gm_labels;
};

struct imap_reply {
	enum imap_reply_type type;
	/* the number before the name ("* 3 FETCH"), 0 if none */
	uint32_t num;
	/* the reply's name as sent, e.g. "FETCH" */
	const char *name;

	struct imap_reply_resp resp;
	/* NULL-terminated */
	const char *const *capabilities;
	struct imap_reply_namespace namespace_;
	struct imap_reply_list list;
	struct imap_reply_status status;
	struct imap_reply_search search;
	struct imap_reply_esearch esearch;
	struct imap_reply_fetch fetch;
};

/* The section of a FETCH literal the session is about to stream */
enum imap_fetch_section {
	IMAP_FETCH_SECTION_OTHER = 0,
	/* BODY[]: the whole message */
	IMAP_FETCH_SECTION_BODY,
	/* BODY[HEADER] */
	IMAP_FETCH_SECTION_HEADER,
};

/* A FETCH reply up to a literal: "* seq FETCH (... section {size}" */
struct imap_reply_fetch_literal {
	uint32_t seq;
	/* the UID when it came before the literal, else 0 */
	uint32_t uid;
	enum imap_fetch_section section;
	uoff_t size;
	/* BODY[]<origin>: a partial fetch's answer, from this byte on */
	bool have_origin;
	uoff_t origin;
};

/* Parse an untagged reply's arguments (after the "*"). */
void imap_reply_parse_untagged(const struct imap_arg *args,
			       struct imap_reply *reply_r);
/* Parse a FETCH reply read up to a literal. Returns FALSE if it is not a
   FETCH reply or the literal isn't its last item. */
bool imap_reply_parse_fetch_literal(const struct imap_arg *args,
				    uoff_t size,
				    struct imap_reply_fetch_literal *lit_r);
/* Parse a tagged reply's arguments (after the tag). Returns FALSE if the
   state is missing. */
bool imap_reply_parse_tagged(const struct imap_arg *args,
			     struct imap_source_reply *reply_r);
/* "[CODE arg] text": the code (upper case) and its argument, "" if none */
void imap_reply_split_resp_code(const char *text, const char **code_r,
				const char **code_arg_r);
/* Parse "[CODE arg] text" (or plain text) into a tagged reply of state */
void imap_reply_parse_resp_text(enum imap_source_reply_state state,
				const char *text,
				struct imap_source_reply *reply_r);

#endif
