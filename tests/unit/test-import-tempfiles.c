/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "test-common.h"
#include "import-tempfiles.h"

static void test_import_tempfiles_names(void)
{
	test_begin("temporary files of a killed import: names");
	/* sdbox */
	test_assert(import_tempfiles_name_matches(
		".temp.1764460800.P1234Q0M123456.mail1", "1234", "mail1"));
	test_assert(import_tempfiles_name_matches(
		"temp.1764460800.P1234Q0M123456.mail1", "1234", "mail1"));
	test_assert(import_tempfiles_name_matches(
		"temp.1764460800.P1234Q17M5.mail1", "1234", "mail1"));
	/* maildir (in tmp/) */
	test_assert(import_tempfiles_name_matches(
		"1764460800.M123456P1234.mail1", "1234", "mail1"));
	/* another process, another host, a committed message */
	test_assert(!import_tempfiles_name_matches(
		"temp.1764460800.P12345Q0M1.mail1", "1234", "mail1"));
	test_assert(!import_tempfiles_name_matches(
		"temp.1764460800.P1234Q0M1.mail1", "123", "mail1"));
	test_assert(!import_tempfiles_name_matches(
		"1764460800.M1P12345.mail1", "1234", "mail1"));
	test_assert(!import_tempfiles_name_matches(
		"temp.1764460800.P1234Q0M1.mail2", "1234", "mail1"));
	test_assert(!import_tempfiles_name_matches(
		"temp.1764460800.P1234Q0M1.xmail1", "1234", "mail1"));
	test_assert(!import_tempfiles_name_matches("u.17", "17", "mail1"));
	test_assert(!import_tempfiles_name_matches(
		"1764460800.M1P1234.mail1,S=100:2,S", "1234", "mail1"));
	test_assert(!import_tempfiles_name_matches("dovecot.index", "1234",
						   "index"));
	test_assert(!import_tempfiles_name_matches(
		".temp.1764460800.P4321Q0M1.mail1", "1234", "mail1"));
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_import_tempfiles_names,
		NULL
	};
	return test_run(test_functions);
}
