/* ipvsread.c: table:read: the kernel's IPVS table read into one of apply's tables, a dump of the services, then one per service, each in a turn of the loop. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <linux/ip_vs.h>
#include <linux/netlink.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <netlink/netlink.h>

#include "luaha.h"
#include "ipvs.h"

/* What a dump into a table collects. */
struct ipvs_fill {
	struct ipvs_table	*t;
	size_t			 si;		/* the service whose destinations come */
	int			 af;		/* its family */
	int			 nomem;
};

/*
 * A service as apply compares it: the kernel's flags reduced to those a
 * service is given, and persistence settings only for a persistent one
 * (as normalize shows them).
 */
static void
ipvs_svc_canon(struct ipvs_svc *s)
{
	s->flags &= IPVS_SVC_FLAGS;
	if (!(s->flags & IP_VS_SVC_F_PERSISTENT)) {
		s->timeout = 0;
		s->netmask = s->af == AF_INET6 ? 128 : 0xffffffff;
	}
}

static int
ipvs_fill_service_cb(struct nlmsghdr *h, void *arg)
{
	struct ipvs_fill	*f = arg;
	struct nlattr		*a[IPVS_SVC_ATTR_MAX + 1];
	struct ipvs_svc		 s;

	if (ipvs_parse_service(h, &s, a) == -1)
		return (NL_SKIP);
	ipvs_svc_canon(&s);
	if (ipvs_table_add_svc(f->t, &s) == -1) {
		f->nomem = 1;
		return (NL_STOP);
	}
	return (NL_OK);
}

static int
ipvs_fill_dest_cb(struct nlmsghdr *h, void *arg)
{
	struct ipvs_fill	*f = arg;
	struct nlattr		*a[IPVS_DEST_ATTR_MAX + 1];
	struct ipvs_dest	 d;

	if (ipvs_parse_dest(h, f->af, &d, a) == -1)
		return (NL_SKIP);
	d.fwd &= IP_VS_CONN_F_FWD_MASK;
	if (ipvs_table_add_dest(f->t, f->si, &d) == -1) {
		f->nomem = 1;
		return (NL_STOP);
	}
	return (NL_OK);
}

/* table:read's request: a dump of the services, then one of each service's destinations. */
struct ipvs_read {
	struct nlreq		 r;
	struct ipvs_sock	*is;
	struct ipvs_table	*t;		/* argument 1: alive while the task waits */
	struct ipvs_fill	 f;
	double			 deadline;	/* -1: none */
	int			 sent;		/* IPVS_CMD_GET_SERVICE or _DEST in flight, or 0 */
	int			 partial;	/* stopped at the deadline */
	uint32_t		 buf[IPVS_MSG_MAX / 4];
};

/*
 * Sends the next dump, as the one before is answered. Each dump is one
 * turn of the loop: a service's destinations, or the list of services,
 * at most NLREQ_READS x 64 KiB read and parsed (about 4000 destinations, a
 * few ms); 10 000 real servers in 1000 services take 1001 turns.
 */
static int
ipvs_read_step(struct nlreq *r)
{
	struct ipvs_read	*q = r->arg;
	struct ipvs_table	*t = q->t;
	struct ipvs_wbuf	 w = { (unsigned char *)q->buf, 0, sizeof(q->buf),
	    q->is->family };
	struct ipvs_entry	*e;

	if (r->kerr != 0 || q->f.nomem)
		return (0);
	if (q->sent == IPVS_CMD_GET_SERVICE)
		t->listed = 1;
	else if (q->sent == IPVS_CMD_GET_DEST)
		t->next++;
	if (!t->listed) {
		q->sent = IPVS_CMD_GET_SERVICE;
		ipvs_wmsg(&w, IPVS_CMD_GET_SERVICE, NLM_F_DUMP, 0, NULL, 0, NULL, 0);
		return (nlreq_send(r, w.p, w.len) == -1 ? -1 : 1);
	}
	if (t->next < t->nsvcs) {
		/* The clock is a system call in UML: look at it now and then. */
		if (t->next % 16 == 0 && q->deadline >= 0 && loop_now() >= q->deadline) {
			q->partial = 1;
			return (0);
		}
		/* Destinations arrive in service order, so each service's are contiguous. */
		e = &t->svcs[t->next];
		e->first = t->ndests;
		q->f.si = t->next;
		q->f.af = e->s.af;
		q->sent = IPVS_CMD_GET_DEST;
		if (ipvs_wmsg(&w, IPVS_CMD_GET_DEST, NLM_F_DUMP, 0, &e->s, 0, NULL, 0) == -1) {
			r->why = "message too large";
			return (-1);
		}
		return (nlreq_send(r, w.p, w.len) == -1 ? -1 : 1);
	}
	t->unindexed = 0;
	if (ipvs_index_reserve(t, &t->by_dest, 1, t->ndests) == -1)
		q->f.nomem = 1;
	else
		t->complete = 1;
	return (0);
}

static int
ipvs_read_reply(struct nlreq *r, struct nlmsghdr *h)
{
	struct ipvs_read	*q = r->arg;

	if (q->sent == IPVS_CMD_GET_SERVICE)
		return (ipvs_fill_service_cb(h, &q->f));
	return (ipvs_fill_dest_cb(h, &q->f));
}

/* true, false (to be called again), or nil and "list services: ..." or "list destinations of <service>: ...". */
static int
ipvs_read_push(lua_State *L, struct nlreq *r)
{
	struct ipvs_read	*q = r->arg;
	struct ipvs_table	*t = q->t;
	char			 desc[96];

	if (q->f.nomem)
		return (luaha_fail(L, "ipvs: %s", strerror(ENOMEM)));
	if (r->why == NULL && r->kerr == 0) {
		lua_pushboolean(L, !q->partial);
		return (1);
	}
	if (!t->listed)
		return (luaha_fail(L, "list services: %s", r->why != NULL ? r->why :
		    ipvs_strerror(IPVS_CMD_GET_SERVICE, r->kerr)));
	ipvs_svc_desc(&t->svcs[t->next].s, desc, sizeof(desc));
	return (luaha_fail(L, "list destinations of %s: %s", desc, r->why != NULL ?
	    r->why : ipvs_strerror(IPVS_CMD_GET_DEST, r->kerr)));
}

/*
 * table:read([deadline]): fills the table from the kernel: the services in
 * one dump, then the destinations of each, one dump per service (the kernel
 * has no dump of all), until deadline has passed. Returns true when
 * complete, false when to be called again, or nil, "list services: ..." or
 * "list destinations of <service>: ...". Waits in the calling task.
 */
int
ipvs_table_read(lua_State *L)
{
	struct ipvs_table	*t = ipvs_table_check(L, 1, 0);
	double			 deadline = luaL_optnumber(L, 2, -1);
	struct ipvs_sock	*is;
	struct ipvs_read	*q;

	if ((is = ipvs_need(L)) == NULL)
		return (2);
	t->unindexed = 1;
	q = ipvs_req_alloc(L, sizeof(*q));
	q->r.step = ipvs_read_step;
	q->r.reply = ipvs_read_reply;
	q->r.push = ipvs_read_push;
	q->is = is;
	q->t = t;
	q->f.t = t;
	q->deadline = deadline;
	return (ipvs_req_call(L, is, lua_gettop(L)));
}
