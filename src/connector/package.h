/*
 * package.h - writes a Power Platform custom connector package: the folder
 * `paconn create` and the maker portal import.
 *
 *   DIR/apiDefinition.swagger.json   the Swagger definition (swagger.h)
 *   DIR/apiProperties.json           connection parameters, icon colour,
 *                                    capabilities, publisher, stack owner
 *   DIR/icon.png                     the default icon (png.h)
 *
 * DIR is created when missing (its parent must exist). A DIR that already
 * holds anything is refused unless `force`, which overwrites these three
 * files and leaves everything else alone. Each file is written to a
 * temporary name in DIR and renamed into place, so a failed export never
 * leaves a half-written file under a real name.
 */
#ifndef MD_CONNECTOR_PACKAGE_H
#define MD_CONNECTOR_PACKAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "core/buf.h"

/* The icon colour when the config has no connector.brand_color: the one
 * Microsoft asks independent publishers to use. */
#define MD_CONNECTOR_DEFAULT_COLOR "#da3b01"

/* Builds apiProperties.json for cfg into *out, which this initializes (the
 * caller md_buf_frees it). publisher and stackOwner are the contact name,
 * left out without one. MD_OK, MD_ETOOBIG, or MD_EINVAL when the
 * endpoints use two auth providers (md_swagger_build says which). */
int md_connector_api_properties(const md_config_t *cfg, md_buf_t *out);

/* Writes the package for cfg into dir, with `definition` (built by
 * md_swagger_build) as apiDefinition.swagger.json. MD_OK; MD_EINVAL with a
 * message in err (dir not empty without force, not a directory, cannot be
 * created or written). */
int md_connector_package(const char *dir, const md_config_t *cfg, const md_buf_t *definition, bool force,
                         char *err, size_t errlen);

#endif
