"""A small bilingual thesaurus of online-shop words.

Each concept is a group of English words (matched after stemming) and Chinese words
(matched as substrings of the simplified text). A text mentioning any of them also gets
the concept's token, so "parcel", "package" and "包裹" meet, and a mixed-language question
("refund 多久到") reaches the Chinese article. General shop vocabulary, not a list of
questions: tenants' own wording goes into articles' alternate phrasings.
"""
from __future__ import annotations

# Countries (a question naming one is about shipping abroad); stems for the English ones.
COUNTRIES_EN = (
    "usa", "america", "canada", "mexico", "brazil", "argentina", "chile", "uk", "britain", "england", "scotland",
    "ireland", "france", "germany", "spain", "portugal", "italy", "netherlands", "holland", "belgium",
    "switzerland", "austria", "sweden", "norway", "denmark", "finland", "poland", "greece", "turkey", "russia",
    "ukraine", "israel", "uae", "dubai", "saudi", "egypt", "nigeria", "kenya", "india", "pakistan", "china",
    "japan", "korea", "taiwan", "hong kong", "singapore", "malaysia", "thailand", "vietnam", "indonesia",
    "philippines", "australia", "zealand", "europe", "asia", "africa",
)
COUNTRIES_ZH = (
    "美国", "加拿大", "墨西哥", "巴西", "英国", "爱尔兰", "法国", "德国", "西班牙", "葡萄牙", "意大利", "荷兰",
    "比利时", "瑞士", "奥地利", "瑞典", "挪威", "丹麦", "芬兰", "波兰", "希腊", "土耳其", "俄罗斯", "以色列",
    "迪拜", "印度", "日本", "韩国", "台湾", "香港", "澳门", "新加坡", "马来西亚", "泰国", "越南", "印尼",
    "菲律宾", "澳洲", "澳大利亚", "新西兰", "欧洲", "亚洲", "非洲", "欧盟",
)

CONCEPTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # concept: (English words, Chinese words)
    "parcel": (("parcel", "package", "packag", "shipment", "box"), ("包裹", "快递", "快遞", "货物")),
    "deliver": (("deliver", "delivery", "arrive", "arrival", "ship", "shipping", "dispatch"),
                ("送达", "到货", "配送", "发货", "寄出")),
    "ship-fee": (("postage", "fee", "cost", "charge"), ("运费", "邮费", "费用", "多少钱", "收费")),
    "free": (("free",), ("包邮", "免费", "免运费")),
    "abroad": (("international", "abroad", "overseas", "worldwide", "country", "countries", "import",
                "duty", "duties", *COUNTRIES_EN), ("国外", "海外", "国际", "关税", "进口", "出国", *COUNTRIES_ZH)),
    "track": (("track", "tracking"), ("物流", "跟踪", "单号", "到哪")),
    "address": (("address", "adress", "zip", "postcode", "postal"), ("地址", "邮编", "收件人")),
    "cancel": (("cancel", "cancellation", "revoke", "withdraw"), ("取消", "撤销", "撤回", "不想要", "不想买")),
    "return": (("return", "send back", "returns"), ("退货", "退回", "寄回")),
    "refund": (("refund", "reimburse", "money back", "repay"), ("退款", "退钱", "钱退", "到账", "退回的钱")),
    "exchange": (("exchange", "swap", "replace"), ("换货", "换", "调换")),
    "size": (("size", "sizes", "fit", "small", "large", "big", "tight", "loose"), ("尺码", "码数", "大小", "偏大", "偏小")),
    "broken": (("broken", "damaged", "damage", "faulty", "defective", "defect", "crack", "cracked", "hole",
                "torn", "scratched"), ("坏", "破", "碎", "质量问题", "瑕疵", "发错", "错了", "有洞")),
    "lost": (("lost", "missing", "stolen"), ("丢", "没收到", "没到", "找不到")),
    "pay": (("pay", "payment", "paid", "paying", "checkout", "card", "credit", "debit", "paypal", "alipay",
             "wechat", "amex", "visa", "mastercard", "cash", "installments", "installment", "klarna"),
            ("付款", "支付", "付钱", "结账", "信用卡", "银行卡", "支付宝", "微信", "分期")),
    "decline": (("declined", "decline", "reject", "rejected", "fail", "failed", "error", "refused"),
                ("失败", "被拒", "拒绝", "报错", "不成功", "付不了")),
    "invoice": (("invoice", "receipt", "bill", "vat", "billing"), ("发票", "收据", "抬头", "税号")),
    "coupon": (("coupon", "voucher", "promo", "discount"), ("优惠码", "优惠券", "折扣码", "代金券", "优惠")),
    "price-drop": (("cheaper", "drop", "dropped", "difference", "protection", "lower"), ("降价", "差价", "便宜", "价格保护")),
    "warranty": (("warranty", "guarantee", "repair", "repaired"), ("保修", "质保", "保固", "维修")),
    "gift": (("gift", "present", "giftcard"), ("礼品卡", "购物卡", "礼品", "礼物")),
    "password": (("password", "login", "log", "locked", "signin", "sign"), ("密码", "登录", "登不", "登陆")),
    "sms": (("sms", "text", "otp", "verification", "verify"), ("验证码", "短信", "动态码")),
    "account": (("account", "profile", "data", "gdpr", "privacy"), ("账号", "账户", "帐号", "个人信息", "数据", "注销")),
    "email": (("email", "emails", "mail", "mails", "newsletter", "spam", "marketing", "unsubscribe"),
              ("邮件", "订阅", "退订", "广告")),
    "hours": (("hours", "open", "opening", "sunday", "weekend", "phone"),
              ("几点", "时间", "上班", "下班", "周末", "周日", "电话")),
    "stock": (("stock", "restock", "sold", "available", "availability", "notify"), ("补货", "缺货", "到货通知", "卖完", "没货", "有货")),
}
