/*
 * dlt.c - pcap link types to frame.h links (see dlt.h).
 */
#include <pcap/pcap.h>

#include "dlt.h"
#include "frame.h"

int fs_dlt_frame_link(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB: return FS_FRAME_LINK_ETHERNET;
    case DLT_LINUX_SLL: return FS_FRAME_LINK_SLL;
    case DLT_LINUX_SLL2: return FS_FRAME_LINK_SLL2;
    case DLT_RAW: case DLT_IPV4: case DLT_IPV6: return FS_FRAME_LINK_RAW;
    case DLT_NULL: case DLT_LOOP: return FS_FRAME_LINK_NULL;
    default: return -1;
    }
}

const char *fs_dlt_name(int dlt)
{
    const char *name = pcap_datalink_val_to_name(dlt);

    return name != NULL ? name : "unknown";
}
