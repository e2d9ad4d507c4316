/*
 * dlt.h - which pcap link types (DLT_*) the frame parser reads, for every
 * reader of captures: the collector's export datagrams (pcapfile.c) and the
 * sensor's packets (sensor/capture.c) accept the very same ones.
 */
#ifndef FS_DLT_H
#define FS_DLT_H

/* The frame.h link (enum fs_frame_link) of pcap link type `dlt`, or -1 when
 * the parser does not read it. Raw captures (DLT_RAW, LINKTYPE_IPV4,
 * LINKTYPE_IPV6) are all read by the version nibble, whatever they
 * announce. */
int fs_dlt_frame_link(int dlt);

/* libpcap's name of `dlt` ("EN10MB"), or "unknown". */
const char *fs_dlt_name(int dlt);

#endif
