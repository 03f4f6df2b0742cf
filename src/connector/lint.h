/*
 * lint.h - `medley connector lint DIR`: an offline check of a Power
 * Platform custom connector package against the rules Microsoft publishes
 * for custom and certified connectors (string guidance, certification
 * submission, OpenAPI extensions, the PowerPlatformConnectors schemas).
 *
 * Microsoft's own validator (`paconn validate`) needs a cloud login; this
 * one reads the three files of a package (apiDefinition.swagger.json,
 * apiProperties.json, icon.png) and nothing else, so it runs in CI and
 * before every import. It is written for packages medley exports but
 * checks any package: all input is treated as hostile (size caps, the
 * strict JSON scanner, bounded walks).
 *
 * Output: one finding per line,
 *
 *     PATH: RULE: SEVERITY: MESSAGE
 *
 * PATH says where: a dotted path into apiDefinition.swagger.json
 * (`paths./home.get.summary`, `...parameters[0].x-ms-summary`), a path
 * into apiProperties.json prefixed with `apiProperties.json#`
 * (`apiProperties.json#properties.iconBrandColor`), or a bare file name for
 * findings about a whole file. RULE is a stable kebab-case name (the list
 * is in docs/connector.md). SEVERITY is `error` (Power Platform refuses or
 * certification rejects the package) or `warning` (accepted, but worse for
 * makers). Control bytes from the input are printed as '?', so a finding
 * is always exactly one line.
 */
#ifndef MD_CONNECTOR_LINT_H
#define MD_CONNECTOR_LINT_H

#include <stdio.h>

/* Largest apiDefinition.swagger.json / apiProperties.json read (the portal
 * itself refuses definitions above 1 MB; 4 MiB leaves room). */
#define MD_LINT_MAX_FILE_BYTES (4u << 20)

/* Largest icon.png accepted (certification: under 1 MB). */
#define MD_LINT_MAX_ICON_BYTES (1u << 20)

/* JSON values per file; a file with more is refused as too big. */
#define MD_LINT_MAX_TOKENS (1u << 19)

/* Operations checked (each gets an operationId to compare with all). */
#define MD_LINT_MAX_OPERATIONS 1024

/* Nesting of response schemas followed (properties / items / $ref). */
#define MD_LINT_MAX_SCHEMA_DEPTH 32

/* Findings printed; the rest are still counted, then summarised in one
 * closing line so a hostile package cannot flood the terminal. */
#define MD_LINT_MAX_FINDINGS 1000

/* Findings of one run, by severity. */
typedef struct md_lint_counts {
    unsigned errors;
    unsigned warnings;
} md_lint_counts_t;

/* Checks the package in directory `dir`, printing each finding to `out`.
 * Returns the number of ERRORS (warnings do not count; 0 means the
 * package passes), or MD_EINVAL when dir or out is NULL. Unreadable or
 * invalid files are findings (errors), never a crash. */
int md_connector_lint(const char *dir, FILE *out);

/* As md_connector_lint, and also stores both counts in *counts (when not
 * NULL), e.g. for a "N errors, M warnings" summary line. */
int md_connector_lint_ex(const char *dir, FILE *out, md_lint_counts_t *counts);

#endif
