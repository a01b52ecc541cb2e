# fluxbot's install layout and Debian package (included at the end of CMakeLists.txt).
#
#   cmake --install build/release                 # GNU layout under CMAKE_INSTALL_PREFIX
#   ./scripts/package.sh                          # build/package/fluxbot_<version>_<arch>.deb
#
# bin/fluxbot; share/fluxbot/{workflows,config} (workflows: the API-format exports, their
# mappings and the command declarations, NAME.cmd.json, one per generation command);
# SYSCONFDIR/fluxbot/{fluxbot.json,fluxbot.env};
# the systemd unit; man1/fluxbot.1.gz and the bash completion, both generated at build time by
# the binary from its key table (so they cannot drift from --help); README and docs in DOCDIR.
include(GNUInstallDirs)

set(FLUXBOT_DATADIR "${CMAKE_INSTALL_DATADIR}/fluxbot")
set(FLUXBOT_FULL_DATADIR "${CMAKE_INSTALL_FULL_DATADIR}/fluxbot")
# GNUInstallDirs already names a folder of ours for an /opt/fluxbot prefix (/etc/opt/fluxbot).
if(CMAKE_INSTALL_FULL_SYSCONFDIR MATCHES "/fluxbot$")
    set(FLUXBOT_FULL_CONFDIR "${CMAKE_INSTALL_FULL_SYSCONFDIR}")
else()
    set(FLUXBOT_FULL_CONFDIR "${CMAKE_INSTALL_FULL_SYSCONFDIR}/fluxbot")
endif()
# The service's state: systemd's StateDirectory=fluxbot, always /var/lib/fluxbot.
set(FLUXBOT_STATE_DIR "/var/lib/fluxbot")

# The unit goes where systemd reads units for this prefix: the distribution's folder for /usr,
# /usr/local/lib/systemd/system for /usr/local, /etc/systemd/system for any other prefix.
# FLUXBOT_SYSTEMD_UNIT_DIR overrides; it is not derived into the cache, so a later change of
# the prefix moves the unit too.
set(FLUXBOT_SYSTEMD_UNIT_DIR "" CACHE PATH "Where the systemd unit goes (empty: from the prefix)")
if(FLUXBOT_SYSTEMD_UNIT_DIR)
    set(_unitdir "${FLUXBOT_SYSTEMD_UNIT_DIR}")
elseif(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    pkg_get_variable(_unitdir systemd systemdsystemunitdir)
    if(NOT _unitdir)
        set(_unitdir "/lib/systemd/system")
    endif()
elseif(CMAKE_INSTALL_PREFIX STREQUAL "/usr/local")
    set(_unitdir "/usr/local/lib/systemd/system")
else()
    set(_unitdir "/etc/systemd/system")
endif()

# The binary tells its build tree from an installation (src/util/util_self.c), and the manual
# describes the installed layout (src/app/docgen.c): both need the layout, and only they get it,
# so changing the prefix recompiles two files. version.c gets Concurrency Kit's version, which
# the library itself does not report.
file(RELATIVE_PATH _bin_to_data "${CMAKE_INSTALL_FULL_BINDIR}" "${FLUXBOT_FULL_DATADIR}")
file(RELATIVE_PATH _bin_to_doc "${CMAKE_INSTALL_FULL_BINDIR}" "${CMAKE_INSTALL_FULL_DOCDIR}")
set_property(SOURCE src/util/util_self.c APPEND PROPERTY COMPILE_DEFINITIONS
    FLUXBOT_BUILD_DIR="${CMAKE_BINARY_DIR}"
    FLUXBOT_BIN_TO_DATADIR="${_bin_to_data}"
    FLUXBOT_INSTALL_DATADIR="${FLUXBOT_FULL_DATADIR}"
    FLUXBOT_BIN_TO_DOCDIR="${_bin_to_doc}"
    FLUXBOT_INSTALL_DOCDIR="${CMAKE_INSTALL_FULL_DOCDIR}")
set_property(SOURCE src/app/docgen.c APPEND PROPERTY COMPILE_DEFINITIONS
    FLUXBOT_INSTALL_DATADIR="${FLUXBOT_FULL_DATADIR}"
    FLUXBOT_INSTALL_CONFDIR="${FLUXBOT_FULL_CONFDIR}"
    FLUXBOT_INSTALL_DOCDIR="${CMAKE_INSTALL_FULL_DOCDIR}")
set_property(SOURCE src/app/version.c APPEND PROPERTY COMPILE_DEFINITIONS
    FLUXBOT_CK_VERSION="${CK_VERSION}")

# Generated from the binary at build time.
set(_gen "${CMAKE_BINARY_DIR}/generated")
file(MAKE_DIRECTORY "${_gen}")
add_custom_command(
    OUTPUT "${_gen}/fluxbot.1.gz" "${_gen}/fluxbot.bash-completion"
    COMMAND sh -c "\"$1\" --man > fluxbot.1 && gzip -9nf fluxbot.1 && \"$1\" --bash-completion > fluxbot.bash-completion"
            sh $<TARGET_FILE:fluxbot>
    WORKING_DIRECTORY "${_gen}"
    DEPENDS fluxbot
    COMMENT "Generating the fluxbot(1) manual page and the bash completion"
    VERBATIM)
add_custom_target(fluxbot_docs ALL DEPENDS "${_gen}/fluxbot.1.gz" "${_gen}/fluxbot.bash-completion")

# The unit, the example configuration and the environment file, with this prefix's paths.
configure_file(contrib/fluxbot.service.in "${_gen}/fluxbot.service" @ONLY)
configure_file(contrib/fluxbot.json.in "${_gen}/fluxbot.json" @ONLY)
configure_file(contrib/fluxbot.env.in "${_gen}/fluxbot.env" @ONLY)

install(TARGETS fluxbot RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
# Every file of workflows/ (the *.cmd.json declarations included: without them the bot has no
# generation command) and config/.
install(DIRECTORY workflows config DESTINATION "${FLUXBOT_DATADIR}")
install(FILES "${_gen}/fluxbot.1.gz" DESTINATION "${CMAKE_INSTALL_MANDIR}/man1")
install(FILES "${_gen}/fluxbot.bash-completion"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/bash-completion/completions" RENAME fluxbot)
install(FILES README.md DESTINATION "${CMAKE_INSTALL_DOCDIR}")
# docs/ kept as a folder beside the README, so the README's links work where it is installed.
install(DIRECTORY docs DESTINATION "${CMAKE_INSTALL_DOCDIR}" FILES_MATCHING PATTERN "*.md")
install(DIRECTORY contrib/grafana DESTINATION "${CMAKE_INSTALL_DOCDIR}/examples")
install(FILES "${_gen}/fluxbot.service" DESTINATION "${_unitdir}")
# The example configuration and the token file, unless already there: installing again over a
# configured machine must not overwrite the operator's settings and token (the package's
# conffile handling does the same for upgrades). The token file is readable by root only
# (systemd reads it before dropping to the fluxbot user).
install(CODE "
    foreach(f fluxbot.json fluxbot.env)
        if(EXISTS \"\$ENV{DESTDIR}${FLUXBOT_FULL_CONFDIR}/\${f}\")
            message(STATUS \"Kept: \$ENV{DESTDIR}${FLUXBOT_FULL_CONFDIR}/\${f} (already configured)\")
        elseif(f STREQUAL fluxbot.env)
            file(INSTALL \"${_gen}/\${f}\" DESTINATION \"${FLUXBOT_FULL_CONFDIR}\"
                 PERMISSIONS OWNER_READ OWNER_WRITE)
        else()
            file(INSTALL \"${_gen}/\${f}\" DESTINATION \"${FLUXBOT_FULL_CONFDIR}\")
        endif()
    endforeach()")

# The Debian package: ./scripts/package.sh configures a build with CMAKE_INSTALL_PREFIX=/usr
# (so SYSCONFDIR is /etc) and runs cpack; scripts/test.sh checks it with lintian.
# Who the package names as its maintainer (Maintainer field, changelog trailer). The default has
# no public address; its lintian tag is overridden (contrib/debian/lintian-overrides) only
# while the default is used: set this when building a package for distribution.
set(FLUXBOT_DEB_MAINTAINER "fluxbot maintainers <fluxbot@localhost>"
    CACHE STRING "Maintainer of the Debian package: Name <address>")
set(_deb "${CMAKE_BINARY_DIR}/debian-control")
file(MAKE_DIRECTORY "${_deb}")
# The changelog's newest entry is the version being packaged: a version bumped without an
# entry would ship a changelog that does not describe the package.
file(STRINGS contrib/debian/changelog _changelog_head LIMIT_COUNT 1)
if(NOT _changelog_head MATCHES "^fluxbot \\(${PROJECT_VERSION}\\) ")
    message(FATAL_ERROR "contrib/debian/changelog: its first entry must be version "
                        "${PROJECT_VERSION} (the project's), found: ${_changelog_head}")
endif()
configure_file(contrib/debian/changelog "${_deb}/changelog" @ONLY)
file(READ contrib/debian/lintian-overrides _overrides)
if(FLUXBOT_DEB_MAINTAINER MATCHES "@localhost>")
    string(APPEND _overrides "
# The default maintainer (FLUXBOT_DEB_MAINTAINER) has no public address; a package built for
# distribution sets a real one, and then these two are not needed.
fluxbot: bogus-mail-host
fluxbot: bogus-mail-host-in-debian-changelog
")
endif()
file(WRITE "${_deb}/lintian-overrides" "${_overrides}")
# Native package: its Debian changelog is changelog.gz (gzip -n: reproducible).
add_custom_command(
    OUTPUT "${_gen}/changelog.gz"
    COMMAND sh -c "gzip -9nc \"$1\" > \"$2\"" sh "${_deb}/changelog" "${_gen}/changelog.gz"
    DEPENDS "${_deb}/changelog"
    COMMENT "Compressing the Debian changelog"
    VERBATIM)
add_custom_target(fluxbot_changelog ALL DEPENDS "${_gen}/changelog.gz")
install(FILES contrib/debian/copyright "${_gen}/changelog.gz"
        DESTINATION "${CMAKE_INSTALL_DOCDIR}")
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    # Shipped empty so the unit's WorkingDirectory exists even before postinst runs.
    install(DIRECTORY DESTINATION "${FLUXBOT_STATE_DIR}")
    install(FILES "${_deb}/lintian-overrides" DESTINATION "${CMAKE_INSTALL_DATADIR}/lintian/overrides"
            RENAME fluxbot)
endif()
foreach(script postinst prerm postrm)
    configure_file("contrib/debian/${script}" "${_deb}/${script}" @ONLY
                   FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                   WORLD_READ WORLD_EXECUTE)
endforeach()
file(WRITE "${_deb}/conffiles" "${FLUXBOT_FULL_CONFDIR}/fluxbot.json\n${FLUXBOT_FULL_CONFDIR}/fluxbot.env\n")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME fluxbot)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Discord bot for Flux image and video generation on ComfyUI")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
    "fluxbot turns Discord slash commands into Flux image and video generations\n"
    "on one or more ComfyUI servers and keeps usage analytics in SQLite. It runs\n"
    "as a systemd service, serves Prometheus metrics and ships a Grafana dashboard.")
set(CPACK_PACKAGE_CONTACT "${FLUXBOT_DEB_MAINTAINER}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON) # Depends from the linked libraries (dpkg-shlibdeps)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd, procps") # useradd in postinst; kill for ExecReload
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "sqlite3")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${_deb}/postinst;${_deb}/prerm;${_deb}/postrm;${_deb}/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_OUTPUT_FILE_PREFIX "${CMAKE_BINARY_DIR}")
include(CPack)
