/* ipvsmsg.c: IPVS's netlink messages: requests written straight into a buffer, services and destinations read from replies. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>

#include <stdint.h>
#include <string.h>

#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "luaha.h"
#include "ipvs.h"

/* The command that carries out each operation (enum ipvs_op). */
const uint8_t ipvs_op_cmds[] = {
	IPVS_CMD_NEW_SERVICE, IPVS_CMD_SET_SERVICE, IPVS_CMD_DEL_SERVICE,
	IPVS_CMD_NEW_DEST, IPVS_CMD_SET_DEST, IPVS_CMD_DEL_DEST
};

/* A request for cmd built by libnl, for those that add attributes of their own. */
struct nl_msg *
ipvs_msg(lua_State *L, const struct ipvs_sock *is, int cmd, int flags)
{
	struct nl_msg	*msg;

	if ((msg = nlmsg_alloc()) == NULL)
		luaL_error(L, "ipvs: out of memory");
	if (genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, is->family, 0, flags,
	    cmd, IPVS_GENL_VERSION) == NULL) {
		nlmsg_free(msg);
		luaL_error(L, "ipvs: cannot build a message");
	}
	return (msg);
}

/* Appends an attribute (len 0 and data NULL for a nest); NULL when it does not fit. */
static struct nlattr *
ipvs_wattr(struct ipvs_wbuf *w, int type, const void *data, size_t len)
{
	struct nlattr	*a;
	size_t		 total = NLA_ALIGN(NLA_HDRLEN + len);

	if (w->cap - w->len < total)
		return (NULL);
	a = (struct nlattr *)(w->p + w->len);
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len > 0)
		memcpy((unsigned char *)a + NLA_HDRLEN, data, len);
	memset((unsigned char *)a + NLA_HDRLEN + len, 0, total - NLA_HDRLEN - len);
	w->len += total;
	return (a);
}

static int
ipvs_wu16(struct ipvs_wbuf *w, int type, uint16_t v)
{
	return (ipvs_wattr(w, type, &v, sizeof(v)) == NULL ? -1 : 0);
}

static int
ipvs_wu32(struct ipvs_wbuf *w, int type, uint32_t v)
{
	return (ipvs_wattr(w, type, &v, sizeof(v)) == NULL ? -1 : 0);
}

static int
ipvs_wstr(struct ipvs_wbuf *w, int type, const char *v)
{
	return (ipvs_wattr(w, type, v, strlen(v) + 1) == NULL ? -1 : 0);
}

/* Adds the service attribute: identity only, or with its settings (full). */
static int
ipvs_wsvc(struct ipvs_wbuf *w, const struct ipvs_svc *s, int full)
{
	struct nlattr		*nest;
	struct ip_vs_flags	 flags = { s->flags, ~0U };

	if ((nest = ipvs_wattr(w, IPVS_CMD_ATTR_SERVICE, NULL, 0)) == NULL ||
	    ipvs_wu16(w, IPVS_SVC_ATTR_AF, s->af) == -1)
		return (-1);
	if (s->fwmark != 0) {
		if (ipvs_wu32(w, IPVS_SVC_ATTR_FWMARK, s->fwmark) == -1)
			return (-1);
	} else if (ipvs_wu16(w, IPVS_SVC_ATTR_PROTOCOL, s->protocol) == -1 ||
	    ipvs_wattr(w, IPVS_SVC_ATTR_ADDR, s->addr, 16) == NULL ||
	    ipvs_wu16(w, IPVS_SVC_ATTR_PORT, htons(s->port)) == -1)
		return (-1);
	if (full && (ipvs_wstr(w, IPVS_SVC_ATTR_SCHED_NAME, s->sched) == -1 ||
	    ipvs_wattr(w, IPVS_SVC_ATTR_FLAGS, &flags, sizeof(flags)) == NULL ||
	    ipvs_wu32(w, IPVS_SVC_ATTR_TIMEOUT, s->timeout) == -1 ||
	    ipvs_wu32(w, IPVS_SVC_ATTR_NETMASK, s->netmask) == -1 ||
	    (s->pe[0] != '\0' && ipvs_wstr(w, IPVS_SVC_ATTR_PE_NAME, s->pe) == -1)))
		return (-1);
	nest->nla_len = w->p + w->len - (unsigned char *)nest;
	return (0);
}

static int
ipvs_wdest(struct ipvs_wbuf *w, const struct ipvs_dest *d, int full)
{
	struct nlattr	*nest;

	if ((nest = ipvs_wattr(w, IPVS_CMD_ATTR_DEST, NULL, 0)) == NULL ||
	    ipvs_wattr(w, IPVS_DEST_ATTR_ADDR, d->addr, 16) == NULL ||
	    ipvs_wu16(w, IPVS_DEST_ATTR_PORT, htons(d->port)) == -1 ||
	    ipvs_wu16(w, IPVS_DEST_ATTR_ADDR_FAMILY, d->af) == -1)
		return (-1);
	if (full && (ipvs_wu32(w, IPVS_DEST_ATTR_FWD_METHOD, d->fwd) == -1 ||
	    ipvs_wu32(w, IPVS_DEST_ATTR_WEIGHT, (uint32_t)d->weight) == -1 ||
	    ipvs_wu32(w, IPVS_DEST_ATTR_U_THRESH, d->u_thresh) == -1 ||
	    ipvs_wu32(w, IPVS_DEST_ATTR_L_THRESH, d->l_thresh) == -1))
		return (-1);
	nest->nla_len = w->p + w->len - (unsigned char *)nest;
	return (0);
}

/*
 * Appends a request: cmd about s (with its settings: sfull) and d (dfull),
 * either of which may be NULL. seq 0 lets libnl number it. Returns 0, or
 * -1 when it does not fit (and w is as before).
 */
int
ipvs_wmsg(struct ipvs_wbuf *w, int cmd, int flags, unsigned int seq,
    const struct ipvs_svc *s, int sfull, const struct ipvs_dest *d, int dfull)
{
	struct nlmsghdr		*h;
	struct genlmsghdr	*g;
	size_t			 start = w->len;

	if (w->cap - w->len < NLMSG_HDRLEN + GENL_HDRLEN)
		return (-1);
	h = (struct nlmsghdr *)(w->p + start);
	memset(h, 0, NLMSG_HDRLEN + GENL_HDRLEN);
	h->nlmsg_type = w->family;
	h->nlmsg_flags = NLM_F_REQUEST | flags;
	h->nlmsg_seq = seq;
	g = (struct genlmsghdr *)(w->p + start + NLMSG_HDRLEN);
	g->cmd = cmd;
	g->version = IPVS_GENL_VERSION;
	w->len += NLMSG_HDRLEN + GENL_HDRLEN;
	if ((s != NULL && ipvs_wsvc(w, s, sfull) == -1) ||
	    (d != NULL && ipvs_wdest(w, d, dfull) == -1)) {
		w->len = start;
		return (-1);
	}
	h->nlmsg_len = w->len - start;
	return (0);
}

/* Appends the request for an operation. */
int
ipvs_wop(struct ipvs_wbuf *w, enum ipvs_op op, int flags, unsigned int seq,
    const struct ipvs_svc *s, const struct ipvs_dest *d)
{
	return (ipvs_wmsg(w, ipvs_op_cmds[op], flags, seq, s,
	    op == OP_ADD_SERVICE || op == OP_EDIT_SERVICE,
	    op >= OP_ADD_DEST ? d : NULL, op != OP_DEL_DEST));
}

/* Reads a service of a dump into s, its attributes into a; -1 (logged) when malformed. */
int
ipvs_parse_service(struct nlmsghdr *h, struct ipvs_svc *sp, struct nlattr **a)
{
	struct nlattr		*attrs[IPVS_CMD_ATTR_MAX + 1];
	struct ipvs_svc		 s;
	struct ip_vs_flags	 flags;

	if (genlmsg_parse(h, 0, attrs, IPVS_CMD_ATTR_MAX, NULL) < 0 ||
	    attrs[IPVS_CMD_ATTR_SERVICE] == NULL ||
	    nla_parse_nested(a, IPVS_SVC_ATTR_MAX, attrs[IPVS_CMD_ATTR_SERVICE],
	    NULL) < 0 || a[IPVS_SVC_ATTR_AF] == NULL ||
	    a[IPVS_SVC_ATTR_SCHED_NAME] == NULL || a[IPVS_SVC_ATTR_FLAGS] == NULL) {
		log_warnx("ipvs: skipping a malformed service from the kernel");
		return (-1);
	}
	memset(&s, 0, sizeof(s));
	s.af = nla_get_u16(a[IPVS_SVC_ATTR_AF]);
	if (a[IPVS_SVC_ATTR_FWMARK] != NULL)
		s.fwmark = nla_get_u32(a[IPVS_SVC_ATTR_FWMARK]);
	if (s.fwmark == 0 && a[IPVS_SVC_ATTR_ADDR] != NULL) {
		nla_memcpy(s.addr, a[IPVS_SVC_ATTR_ADDR], sizeof(s.addr));
		s.protocol = a[IPVS_SVC_ATTR_PROTOCOL] != NULL ?
		    nla_get_u16(a[IPVS_SVC_ATTR_PROTOCOL]) : 0;
		s.port = a[IPVS_SVC_ATTR_PORT] != NULL ?
		    ntohs(nla_get_u16(a[IPVS_SVC_ATTR_PORT])) : 0;
	}
	nla_strlcpy(s.sched, a[IPVS_SVC_ATTR_SCHED_NAME], sizeof(s.sched));
	if (a[IPVS_SVC_ATTR_PE_NAME] != NULL)
		nla_strlcpy(s.pe, a[IPVS_SVC_ATTR_PE_NAME], sizeof(s.pe));
	nla_memcpy(&flags, a[IPVS_SVC_ATTR_FLAGS], sizeof(flags));
	s.flags = flags.flags;
	s.timeout = a[IPVS_SVC_ATTR_TIMEOUT] != NULL ?
	    nla_get_u32(a[IPVS_SVC_ATTR_TIMEOUT]) : 0;
	s.netmask = a[IPVS_SVC_ATTR_NETMASK] != NULL ?
	    nla_get_u32(a[IPVS_SVC_ATTR_NETMASK]) : 0;
	*sp = s;
	return (0);
}

/* Reads a destination of a dump of a service of family af; -1 (logged) when malformed. */
int
ipvs_parse_dest(struct nlmsghdr *h, int af, struct ipvs_dest *d, struct nlattr **a)
{
	struct nlattr		*attrs[IPVS_CMD_ATTR_MAX + 1];

	if (genlmsg_parse(h, 0, attrs, IPVS_CMD_ATTR_MAX, NULL) < 0 ||
	    attrs[IPVS_CMD_ATTR_DEST] == NULL ||
	    nla_parse_nested(a, IPVS_DEST_ATTR_MAX, attrs[IPVS_CMD_ATTR_DEST],
	    NULL) < 0 || a[IPVS_DEST_ATTR_ADDR] == NULL ||
	    a[IPVS_DEST_ATTR_PORT] == NULL || a[IPVS_DEST_ATTR_FWD_METHOD] == NULL) {
		log_warnx("ipvs: skipping a malformed destination from the kernel");
		return (-1);
	}
	memset(d, 0, sizeof(*d));
	d->af = a[IPVS_DEST_ATTR_ADDR_FAMILY] != NULL ?
	    nla_get_u16(a[IPVS_DEST_ATTR_ADDR_FAMILY]) : af;
	nla_memcpy(d->addr, a[IPVS_DEST_ATTR_ADDR], sizeof(d->addr));
	d->port = ntohs(nla_get_u16(a[IPVS_DEST_ATTR_PORT]));
	d->fwd = nla_get_u32(a[IPVS_DEST_ATTR_FWD_METHOD]);
	if (a[IPVS_DEST_ATTR_WEIGHT] != NULL)
		d->weight = (int32_t)nla_get_u32(a[IPVS_DEST_ATTR_WEIGHT]);
	if (a[IPVS_DEST_ATTR_U_THRESH] != NULL)
		d->u_thresh = nla_get_u32(a[IPVS_DEST_ATTR_U_THRESH]);
	if (a[IPVS_DEST_ATTR_L_THRESH] != NULL)
		d->l_thresh = nla_get_u32(a[IPVS_DEST_ATTR_L_THRESH]);
	return (0);
}
