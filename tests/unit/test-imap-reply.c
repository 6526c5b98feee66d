/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "istream.h"
#include "imap-arg.h"
#include "imap-parser.h"
#include "test-common.h"
#include "imap-reply.h"

/* The flags the session reads replies with */
#define TEST_PARSE_FLAGS \
	(IMAP_PARSE_FLAG_ATOM_ALLCHARS | IMAP_PARSE_FLAG_LITERAL8 | \
	 IMAP_PARSE_FLAG_SERVER_TEXT)

struct test_line {
	struct istream *input;
	struct imap_parser *parser;
	const struct imap_arg *args;
};

/* Parse one reply line (after its tag) */
static void test_line_parse(struct test_line *line, const char *text,
			    enum imap_parser_flags extra_flags)
{
	int ret;

	line->input = i_stream_create_from_data(text, strlen(text));
	line->parser = imap_parser_create(line->input, NULL, 65536, NULL);
	/* the tag */
	(void)i_stream_read(line->input);
	test_assert(imap_parser_read_word(line->parser) != NULL);
	ret = imap_parser_read_args(line->parser, 0,
				    TEST_PARSE_FLAGS | extra_flags,
				    &line->args);
	test_assert(ret > 0 || (extra_flags != 0 && ret >= 0));
}

static void test_line_free(struct test_line *line)
{
	imap_parser_unref(&line->parser);
	i_stream_unref(&line->input);
}

/* The reply's strings point into the parser's buffer: the line stays until
   the next one is parsed, or test_untagged_free() */
static struct test_line untagged_line;

static void test_untagged_free(void)
{
	if (untagged_line.parser != NULL)
		test_line_free(&untagged_line);
	i_zero(&untagged_line);
}

static void test_untagged(const char *text, struct imap_reply *reply_r)
{
	test_untagged_free();
	test_line_parse(&untagged_line, text, 0);
	imap_reply_parse_untagged(untagged_line.args, reply_r);
}

static void test_imap_reply_list(void)
{
	struct imap_reply reply;

	test_begin("imap reply: LIST, LSUB, XLIST");
	test_untagged("* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"\r\n",
		      &reply);
	test_assert(reply.type == IMAP_REPLY_LIST);
	test_assert_strcmp(reply.list.mailbox, "Sent Items");
	test_assert(reply.list.separator == '/' && !reply.list.lsub);
	test_assert(reply.list.special_use == FOLDER_SPECIAL_USE_SENT);
	test_assert(!reply.list.noselect && !reply.list.subscribed);

	test_untagged("* LIST (\\Noselect \\Subscribed) NIL Lists\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_LIST);
	test_assert(reply.list.separator == '\0');
	test_assert(reply.list.noselect && reply.list.subscribed);

	test_untagged("* LSUB () \".\" INBOX.Foo\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_LIST && reply.list.lsub);
	test_assert_strcmp(reply.list.mailbox, "INBOX.Foo");

	test_untagged("* XLIST (\\Inbox) \"/\" Inbox\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_LIST);
	test_assert(reply.list.special_use == FOLDER_SPECIAL_USE_NONE);

	/* hostile: a reply without its mailbox is no LIST */
	test_untagged("* LIST (\\HasNoChildren) \"/\"\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_OTHER);
	test_assert_strcmp(reply.name, "LIST");
	test_untagged("* LIST \"/\" \"/\" x\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_OTHER);
	test_untagged_free();
	test_end();
}

static void test_imap_reply_status_search(void)
{
	struct imap_reply reply;

	test_begin("imap reply: STATUS, EXISTS, SEARCH, ESEARCH, resp codes");
	test_untagged("* STATUS \"Sent Items\" (UIDNEXT 5 MESSAGES 42)\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_STATUS);
	test_assert_strcmp(reply.status.mailbox, "Sent Items");
	test_assert(reply.status.have_messages && reply.status.messages == 42);
	/* hostile numbers are absent, not garbage */
	test_untagged("* STATUS x (MESSAGES 99999999999)\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_STATUS && !reply.status.have_messages);
	test_untagged("* STATUS x (MESSAGES -1)\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_STATUS && !reply.status.have_messages);

	test_untagged("* 17 EXISTS\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_EXISTS && reply.num == 17);

	test_untagged("* SEARCH 4 2 9 x\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_SEARCH);
	test_assert(reply.search.count == 3 && reply.search.numbers[0] == 4 &&
		    reply.search.numbers[2] == 9);

	test_untagged("* ESEARCH (TAG \"A5\") UID MIN 12 COUNT 3\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_ESEARCH);
	test_assert(reply.esearch.have_min && reply.esearch.min == 12);
	test_untagged("* ESEARCH (TAG \"A5\")\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_ESEARCH && !reply.esearch.have_min);

	test_untagged("* OK [UIDVALIDITY 1234] UIDs valid\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_RESP);
	test_assert_strcmp(reply.resp.state, "OK");
	test_assert_strcmp(reply.resp.code, "UIDVALIDITY");
	test_assert_strcmp(reply.resp.code_arg, "1234");
	test_untagged("* BYE [UNAVAILABLE] Server shutting down.\r\n", &reply);
	test_assert_strcmp(reply.resp.state, "BYE");
	test_assert_strcmp(reply.resp.code, "UNAVAILABLE");
	test_assert_strcmp(reply.resp.text, "[UNAVAILABLE] Server shutting down.");

	test_untagged("* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_NAMESPACE);
	test_assert(reply.namespace_.have_personal);
	test_assert_strcmp(reply.namespace_.prefix, "INBOX.");
	test_assert(reply.namespace_.separator == '.');
	test_untagged("* NAMESPACE NIL NIL NIL\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_NAMESPACE &&
		    !reply.namespace_.have_personal);
	test_untagged_free();
	test_end();
}

/* What the folder handling reads: STATUS UIDNEXT/UIDVALIDITY (Courier's
   EXAMINE has no UIDNEXT), Gmail's X-GM-LABELS and \Important */
static void test_imap_reply_folders(void)
{
	struct imap_reply reply;

	test_begin("imap reply: STATUS UIDNEXT/UIDVALIDITY, X-GM-LABELS");
	test_untagged("* STATUS INBOX (MESSAGES 3 UIDNEXT 21 UIDVALIDITY 42)\r\n",
		      &reply);
	test_assert(reply.type == IMAP_REPLY_STATUS);
	test_assert(reply.status.uidnext == 21 && reply.status.uidvalidity == 42);
	test_untagged("* STATUS INBOX (MESSAGES 3)\r\n", &reply);
	test_assert(reply.status.uidnext == 0 && reply.status.uidvalidity == 0);
	/* hostile: not a number is unknown, never a wrong one */
	test_untagged("* STATUS INBOX (UIDNEXT x UIDVALIDITY 99999999999)\r\n",
		      &reply);
	test_assert(reply.type == IMAP_REPLY_STATUS);
	test_assert(reply.status.uidnext == 0 && reply.status.uidvalidity == 0);

	test_untagged("* 4 FETCH (X-GM-LABELS (\\Inbox \\Important \"Caf&AOk-\" "
		      "Work) UID 8 RFC822.SIZE 100)\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_FETCH);
	test_assert(reply.fetch.have_gm_labels);
	test_assert(str_array_length(reply.fetch.gm_labels) == 4);
	test_assert_strcmp(reply.fetch.gm_labels[0], "\\Inbox");
	test_assert_strcmp(reply.fetch.gm_labels[1], "\\Important");
	test_assert_strcmp(reply.fetch.gm_labels[2], "Caf&AOk-");
	test_assert_strcmp(reply.fetch.gm_labels[3], "Work");
	test_assert(reply.fetch.uid == 8 && reply.fetch.have_size);
	test_untagged("* 4 FETCH (X-GM-LABELS () UID 8)\r\n", &reply);
	test_assert(reply.fetch.have_gm_labels && reply.fetch.gm_labels[0] == NULL);
	test_untagged("* 4 FETCH (UID 8)\r\n", &reply);
	test_assert(!reply.fetch.have_gm_labels);
	/* hostile: not a list is no labels */
	test_untagged("* 4 FETCH (X-GM-LABELS Work UID 8)\r\n", &reply);
	test_assert(!reply.fetch.have_gm_labels && reply.fetch.uid == 8);

	test_untagged("* LIST (\\HasNoChildren \\Important) \"/\" "
		      "\"[Gmail]/Important\"\r\n", &reply);
	test_assert(reply.list.special_use == FOLDER_SPECIAL_USE_IMPORTANT);
	test_untagged("* LIST (\\All \\HasNoChildren) \"/\" "
		      "\"[Gmail]/All Mail\"\r\n", &reply);
	test_assert(reply.list.special_use == FOLDER_SPECIAL_USE_ALL);
	test_untagged_free();
	test_end();
}

static void test_imap_reply_fetch(void)
{
	struct imap_reply reply;

	test_begin("imap reply: FETCH");
	test_untagged("* 3 FETCH (UID 7 RFC822.SIZE 1234 INTERNALDATE "
		"\"01-Jan-2024 10:00:00 +0100\" FLAGS (\\Seen \\Recent $Work) "
		"BODY[HEADER.FIELDS (MESSAGE-ID)] {31}\r\n"
		"Message-ID: <a@example.org>\r\n\r\n)\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_FETCH && reply.num == 3);
	test_assert(reply.fetch.uid == 7);
	test_assert(reply.fetch.have_size && reply.fetch.size == 1234);
	test_assert(reply.fetch.have_internaldate &&
		    reply.fetch.internaldate == 1704099600 &&
		    reply.fetch.internaldate_tz_offset == 60);
	test_assert(reply.fetch.have_flags &&
		    reply.fetch.flags == MAIL_SEEN);
	test_assert(reply.fetch.keywords != NULL &&
		    strcmp(reply.fetch.keywords[0], "$Work") == 0 &&
		    reply.fetch.keywords[1] == NULL);
	test_assert(reply.fetch.have_header_fields &&
		    reply.fetch.header_fields_size == 31 &&
		    memcmp(reply.fetch.header_fields, "Message-ID:", 11) == 0);

	/* NIL header, no UID: absent */
	test_untagged("* 4 FETCH (FLAGS () BODY[HEADER.FIELDS (MESSAGE-ID)] NIL)\r\n",
		      &reply);
	test_assert(reply.type == IMAP_REPLY_FETCH && reply.fetch.uid == 0);
	test_assert(reply.fetch.have_header_fields &&
		    reply.fetch.header_fields == NULL);
	test_assert(reply.fetch.keywords == NULL);

	/* hostile values are absent, not garbage */
	test_untagged("* 5 FETCH (UID 99999999999 RFC822.SIZE x "
		      "INTERNALDATE \"yesterday\")\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_FETCH);
	test_assert(reply.fetch.uid == 0 && !reply.fetch.have_size &&
		    !reply.fetch.have_internaldate);
	test_untagged("* 5 FETCH (\"UID\" 5)\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_OTHER);
	test_untagged("* FETCH (UID 5)\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_OTHER);
	test_untagged("* 6 FETCH UID\r\n", &reply);
	test_assert(reply.type == IMAP_REPLY_OTHER);
	test_untagged_free();
	test_end();
}

static void test_imap_reply_fetch_literal(void)
{
	struct imap_reply_fetch_literal lit;
	struct test_line line;
	uoff_t size;

	test_begin("imap reply: FETCH up to a literal");
	test_line_parse(&line, "* 3 FETCH (UID 7 BODY[] {100}\r\n",
			IMAP_PARSE_FLAG_LITERAL_SIZE);
	test_assert(imap_parser_get_literal_size(line.parser, &size) &&
		    size == 100);
	test_assert(imap_reply_parse_fetch_literal(line.args, size, &lit));
	test_assert(lit.seq == 3 && lit.uid == 7 && lit.size == 100);
	test_assert(lit.section == IMAP_FETCH_SECTION_BODY);
	test_line_free(&line);

	/* the UID after the literal: not known yet */
	test_line_parse(&line, "* 4 FETCH (BODY[HEADER] {10}\r\n",
			IMAP_PARSE_FLAG_LITERAL_SIZE);
	test_assert(imap_parser_get_literal_size(line.parser, &size));
	test_assert(imap_reply_parse_fetch_literal(line.args, size, &lit));
	test_assert(lit.seq == 4 && lit.uid == 0);
	test_assert(lit.section == IMAP_FETCH_SECTION_HEADER);
	test_line_free(&line);

	test_line_parse(&line, "* 4 FETCH (UID 9 BODY[TEXT] {10}\r\n",
			IMAP_PARSE_FLAG_LITERAL_SIZE);
	test_assert(imap_parser_get_literal_size(line.parser, &size));
	test_assert(imap_reply_parse_fetch_literal(line.args, size, &lit));
	test_assert(lit.section == IMAP_FETCH_SECTION_OTHER);
	test_line_free(&line);

	/* a partial fetch's answer: where it starts */
	test_line_parse(&line, "* 5 FETCH (UID 11 BODY[]<4096> {10}\r\n",
			IMAP_PARSE_FLAG_LITERAL_SIZE);
	test_assert(imap_parser_get_literal_size(line.parser, &size));
	test_assert(imap_reply_parse_fetch_literal(line.args, size, &lit));
	test_assert(lit.section == IMAP_FETCH_SECTION_BODY);
	test_assert(lit.have_origin && lit.origin == 4096 && lit.uid == 11);
	test_line_free(&line);
	test_line_parse(&line, "* 5 FETCH (BODY[] {10}\r\n",
			IMAP_PARSE_FLAG_LITERAL_SIZE);
	test_assert(imap_parser_get_literal_size(line.parser, &size));
	test_assert(imap_reply_parse_fetch_literal(line.args, size, &lit));
	test_assert(lit.section == IMAP_FETCH_SECTION_BODY && !lit.have_origin);
	test_line_free(&line);
	/* not a number: not the body */
	test_line_parse(&line, "* 5 FETCH (BODY[]<x> {10}\r\n",
			IMAP_PARSE_FLAG_LITERAL_SIZE);
	test_assert(imap_parser_get_literal_size(line.parser, &size));
	test_assert(imap_reply_parse_fetch_literal(line.args, size, &lit));
	test_assert(lit.section == IMAP_FETCH_SECTION_OTHER);
	test_line_free(&line);

	/* a literal after the FETCH list, not in it: no FETCH item (taken
	   for one, the reader stayed at it for ever: found by fuzz-imap-reply) */
	test_line_parse(&line, "* 3 FETCH (A B) X {0}\r\n",
			IMAP_PARSE_FLAG_LITERAL_SIZE);
	test_assert(imap_parser_get_literal_size(line.parser, &size));
	test_assert(!imap_reply_parse_fetch_literal(line.args, size, &lit));
	test_line_free(&line);
	test_line_parse(&line, "* 3 FETCH (BODY[] X) {5}\r\n",
			IMAP_PARSE_FLAG_LITERAL_SIZE);
	test_assert(imap_parser_get_literal_size(line.parser, &size));
	test_assert(!imap_reply_parse_fetch_literal(line.args, size, &lit));
	test_line_free(&line);

	test_line_parse(&line, "* LIST () \"/\" {10}\r\n",
			IMAP_PARSE_FLAG_LITERAL_SIZE);
	test_assert(imap_parser_get_literal_size(line.parser, &size));
	test_assert(!imap_reply_parse_fetch_literal(line.args, size, &lit));
	test_line_free(&line);
	test_end();
}

static void test_imap_reply_tagged(void)
{
	struct imap_source_reply reply;
	struct test_line line;

	test_begin("imap reply: tagged");
	test_line_parse(&line, "A1 NO [THROTTLED] Account exceeded limits\r\n", 0);
	test_assert(imap_reply_parse_tagged(line.args, &reply));
	test_assert(reply.state == IMAP_SOURCE_REPLY_NO);
	test_assert_strcmp(reply.resp_code, "THROTTLED");
	test_assert_strcmp(reply.text, "[THROTTLED] Account exceeded limits");
	test_line_free(&line);

	/* Gmail: the code after the text */
	test_line_parse(&line, "A2 OK Success [THROTTLED]\r\n", 0);
	test_assert(imap_reply_parse_tagged(line.args, &reply));
	test_assert(reply.state == IMAP_SOURCE_REPLY_OK);
	test_assert_strcmp(reply.resp_code, "");
	test_assert_strcmp(reply.text, "Success [THROTTLED]");
	test_line_free(&line);

	test_line_parse(&line, "A3 BAD\r\n", 0);
	test_assert(imap_reply_parse_tagged(line.args, &reply));
	test_assert(reply.state == IMAP_SOURCE_REPLY_BAD);
	test_line_free(&line);

	test_line_parse(&line, "A4 (x)\r\n", 0);
	test_assert(!imap_reply_parse_tagged(line.args, &reply));
	test_line_free(&line);
	test_end();
}

static void test_imap_reply_text_sanitized(void)
{
	struct imap_source_reply reply;
	struct imap_reply untagged;
	struct test_line line;
	string_t *long_text;

	test_begin("imap reply: server text sanitized");
	/* control characters never reach a log or an error detail */
	test_line_parse(&line, "A1 NO [ALERT] bad\x1b[2J text\x07 here\r\n", 0);
	test_assert(imap_reply_parse_tagged(line.args, &reply));
	test_assert_strcmp(reply.resp_code, "ALERT");
	test_assert(strchr(reply.text, '\x1b') == NULL);
	test_assert(strchr(reply.text, '\x07') == NULL);
	test_assert(strstr(reply.text, "text") != NULL);
	test_line_free(&line);

	test_untagged("* BYE going\x1b]0;owned\x07 away\r\n", &untagged);
	test_assert(untagged.type == IMAP_REPLY_RESP);
	test_assert(strchr(untagged.resp.text, '\x1b') == NULL);

	/* and cut to a bounded length */
	long_text = t_str_new(20000);
	str_append(long_text, "A2 NO ");
	while (str_len(long_text) < 10000)
		str_append(long_text, "blah ");
	str_append(long_text, "\r\n");
	test_line_parse(&line, str_c(long_text), 0);
	test_assert(imap_reply_parse_tagged(line.args, &reply));
	test_assert(strlen(reply.text) < 4200);
	test_line_free(&line);
	test_untagged_free();
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_imap_reply_text_sanitized,
		test_imap_reply_list,
		test_imap_reply_status_search,
		test_imap_reply_folders,
		test_imap_reply_fetch,
		test_imap_reply_fetch_literal,
		test_imap_reply_tagged,
		NULL
	};
	return test_run(test_functions);
}
