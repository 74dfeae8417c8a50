/* tests/unit/ipvsmsg.c: IPVS's netlink messages written and read back, batches, errors in ipvsadm's words; no kernel. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "luaha.h"
#include "ipvs.h"
#include "unit.h"

#define FAMILY	0x1234		/* a made-up generic netlink family id */

static void
make_svc(struct ipvs_svc *s)
{
	memset(s, 0, sizeof(*s));
	s->af = AF_INET;
	s->protocol = IPPROTO_TCP;
	inet_pton(AF_INET, "192.0.2.212", s->addr);
	s->port = 80;
	strcpy(s->sched, "wlc");
	s->flags = IP_VS_SVC_F_PERSISTENT;
	s->timeout = 600;
	inet_pton(AF_INET, "255.255.255.0", &s->netmask);
}

static void
make_dest(struct ipvs_dest *d)
{
	memset(d, 0, sizeof(*d));
	d->af = AF_INET;
	inet_pton(AF_INET, "198.51.100.11", d->addr);
	d->port = 8080;
	d->fwd = IP_VS_CONN_F_MASQ;
	d->weight = 7;
	d->u_thresh = 100;
	d->l_thresh = 10;
}

/* A request with its settings reads back as the same service and destination. */
static void
test_roundtrip(void)
{
	uint32_t		 buf[IPVS_MSG_MAX / 4];
	struct ipvs_wbuf	 w = { (unsigned char *)buf, 0, sizeof(buf), FAMILY };
	struct nlattr		*sa[IPVS_SVC_ATTR_MAX + 1], *da[IPVS_DEST_ATTR_MAX + 1];
	struct ipvs_svc		 s, s2;
	struct ipvs_dest	 d, d2;
	struct nlmsghdr		*h = (struct nlmsghdr *)buf;
	struct genlmsghdr	*g;

	make_svc(&s);
	make_dest(&d);
	CHECK(ipvs_wop(&w, OP_ADD_DEST, NLM_F_ACK, 42, &s, &d) == 0);
	CHECK(h->nlmsg_len == w.len);
	CHECK(h->nlmsg_type == FAMILY);
	CHECK(h->nlmsg_flags == (NLM_F_REQUEST | NLM_F_ACK));
	CHECK(h->nlmsg_seq == 42);
	g = nlmsg_data(h);
	CHECK(g->cmd == IPVS_CMD_NEW_DEST && g->version == IPVS_GENL_VERSION);
	/* The add of a destination names its service by identity only. */
	CHECK(ipvs_parse_service(h, &s2, sa) == -1);
	CHECK(ipvs_parse_dest(h, AF_INET, &d2, da) == 0);
	CHECK(memcmp(&d, &d2, sizeof(d)) == 0);

	w.len = 0;
	CHECK(ipvs_wop(&w, OP_ADD_SERVICE, 0, 43, &s, NULL) == 0);
	CHECK(((struct genlmsghdr *)nlmsg_data(h))->cmd == IPVS_CMD_NEW_SERVICE);
	CHECK(ipvs_parse_service(h, &s2, sa) == 0);
	CHECK(s2.af == s.af && s2.protocol == s.protocol && s2.port == s.port);
	CHECK(memcmp(s2.addr, s.addr, 16) == 0);
	CHECK(strcmp(s2.sched, "wlc") == 0 && s2.pe[0] == '\0');
	CHECK(s2.flags == s.flags && s2.timeout == 600 && s2.netmask == s.netmask);
	CHECK(sa[IPVS_SVC_ATTR_FWMARK] == NULL);
}

/* An fwmark service carries the mark and no address, protocol or port. */
static void
test_fwmark_service(void)
{
	uint32_t		 buf[IPVS_MSG_MAX / 4];
	struct ipvs_wbuf	 w = { (unsigned char *)buf, 0, sizeof(buf), FAMILY };
	struct nlattr		*sa[IPVS_SVC_ATTR_MAX + 1];
	struct ipvs_svc		 s, s2;

	memset(&s, 0, sizeof(s));
	s.af = AF_INET6;
	s.fwmark = 10;
	strcpy(s.sched, "sh");
	strcpy(s.pe, "sip");
	s.netmask = 128;
	CHECK(ipvs_wop(&w, OP_EDIT_SERVICE, 0, 1, &s, NULL) == 0);
	CHECK(ipvs_parse_service((struct nlmsghdr *)buf, &s2, sa) == 0);
	CHECK(s2.fwmark == 10 && s2.af == AF_INET6 && s2.port == 0 && s2.protocol == 0);
	CHECK(sa[IPVS_SVC_ATTR_ADDR] == NULL && sa[IPVS_SVC_ATTR_PORT] == NULL);
	CHECK(strcmp(s2.pe, "sip") == 0 && strcmp(s2.sched, "sh") == 0);
}

/* A deletion carries identities only; a message that does not fit leaves the buffer as it was. */
static void
test_delete_and_overflow(void)
{
	uint32_t		 buf[IPVS_MSG_MAX / 4];
	struct ipvs_wbuf	 w = { (unsigned char *)buf, 0, sizeof(buf), FAMILY };
	struct nlattr		*da[IPVS_DEST_ATTR_MAX + 1];
	struct ipvs_svc		 s;
	struct ipvs_dest	 d, d2;
	size_t			 full;

	make_svc(&s);
	make_dest(&d);
	CHECK(ipvs_wop(&w, OP_DEL_DEST, 0, 1, &s, &d) == 0);
	/* No forwarding method, so not a destination as a dump gives one. */
	CHECK(ipvs_parse_dest((struct nlmsghdr *)buf, AF_INET, &d2, da) == -1);
	full = w.len;
	w.len = 0;
	CHECK(ipvs_wop(&w, OP_DEL_SERVICE, 0, 1, &s, NULL) == 0);
	CHECK(w.len < full);
	w.len = 0;
	w.cap = full - 4;
	CHECK(ipvs_wop(&w, OP_DEL_DEST, 0, 1, &s, &d) == -1);
	CHECK(w.len == 0);
	w.cap = 8;
	CHECK(ipvs_wmsg(&w, IPVS_CMD_FLUSH, 0, 1, NULL, 0, NULL, 0) == -1);
	CHECK(w.len == 0);
}

/* A batch is messages one after the other, numbered, the last asking for the answer. */
static void
test_batch_layout(void)
{
	uint32_t		 buf[8 * IPVS_MSG_MAX / 4];
	struct ipvs_wbuf	 w = { (unsigned char *)buf, 0, sizeof(buf), FAMILY };
	struct ipvs_svc		 s;
	struct ipvs_dest	 d;
	struct nlmsghdr		*h;
	int			 i, n, len, acks = 0, order = 1;

	make_svc(&s);
	make_dest(&d);
	for (i = 0; i < 8; i++) {
		d.port = 1000 + i;
		CHECK(ipvs_wop(&w, i == 0 ? OP_ADD_SERVICE : OP_ADD_DEST,
		    i == 7 ? NLM_F_ACK : 0, 100 + i, &s, &d) == 0);
	}
	len = (int)w.len;
	for (n = 0, h = (struct nlmsghdr *)buf; nlmsg_ok(h, len); h = nlmsg_next(h, &len), n++) {
		if (h->nlmsg_seq != (unsigned int)(100 + n))
			order = 0;
		if (h->nlmsg_flags & NLM_F_ACK)
			acks++;
	}
	CHECK(n == 8);
	CHECK(len == 0);
	CHECK(order);
	CHECK(acks == 1);
}

/* The same errno said as ipvsadm says it for each command. */
static void
test_strerror(void)
{
	CHECK(strcmp(ipvs_strerror(IPVS_CMD_NEW_SERVICE, EEXIST), "Service already exists") == 0);
	CHECK(strcmp(ipvs_strerror(IPVS_CMD_NEW_DEST, EEXIST), "Destination already exists") == 0);
	CHECK(strcmp(ipvs_strerror(IPVS_CMD_NEW_SERVICE, ENOENT), "Scheduler not found") == 0);
	CHECK(strcmp(ipvs_strerror(IPVS_CMD_DEL_DEST, ENOENT), "No such destination") == 0);
	CHECK(strcmp(ipvs_strerror(IPVS_CMD_DEL_SERVICE, ESRCH), "No such service") == 0);
	CHECK(strncmp(ipvs_strerror(IPVS_CMD_FLUSH, EPERM), "Permission denied", 17) == 0);
	CHECK(strcmp(ipvs_strerror(IPVS_CMD_FLUSH, EBUSY), strerror(EBUSY)) == 0);
	CHECK(ipvs_op_cmds[OP_EDIT_DEST] == IPVS_CMD_SET_DEST);
	CHECK(ipvs_op_cmds[OP_DEL_SERVICE] == IPVS_CMD_DEL_SERVICE);
}

int
main(void)
{
	RUN("ipvsmsg-roundtrip", test_roundtrip);
	RUN("ipvsmsg-fwmark-service", test_fwmark_service);
	RUN("ipvsmsg-delete-and-overflow", test_delete_and_overflow);
	RUN("ipvsmsg-batch-layout", test_batch_layout);
	RUN("ipvsmsg-strerror", test_strerror);
	UNIT_EXIT();
}
