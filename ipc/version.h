/*
 * version.h - the suite's version, one for every program: what --version
 * prints and what the reporter's CEF header names as the device version.
 */
#ifndef FS_VERSION_H
#define FS_VERSION_H

#define FS_VERSION "0.1"

#endif
