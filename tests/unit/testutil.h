/*
 * testutil.h - includes every cmocka test needs, in the order cmocka wants.
 */
#ifndef MD_TESTUTIL_H
#define MD_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#endif
