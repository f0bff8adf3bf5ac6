import Foundation

/// Validation and the small pieces of acquiring knowledge onboarding needs: merchant category
/// codes, their risk, phone numbers, document limits and how a MID is composed.
public enum MerchantRules {
    /// Largest document accepted (a phone photo of a licence fits; a scanned book does not).
    public static let maxDocumentBytes = 5 << 20

    /// Common merchant category codes (ISO 18245) with English and Chinese names, for display.
    /// Other valid 4-digit codes are accepted and shown by number.
    public static let categories: [String: (en: String, zh: String)] = [
        "4111": ("Commuter transport", "市内交通"), "4121": ("Taxis", "出租车"), "4214": ("Freight and delivery", "货运配送"),
        "4722": ("Travel agencies", "旅行社"), "4812": ("Telecom equipment", "通讯设备"), "4814": ("Telecom services", "电信服务"),
        "4816": ("Computer network services", "网络服务"), "4829": ("Money transfer", "汇款"), "4900": ("Utilities", "公共事业"),
        "5045": ("Computers and software", "电脑及软件"), "5111": ("Stationery", "文具"), "5122": ("Drugs (wholesale)", "药品批发"),
        "5211": ("Building materials", "建材"), "5311": ("Department stores", "百货商店"), "5331": ("Variety stores", "杂货店"),
        "5399": ("General merchandise", "综合商品"), "5411": ("Supermarkets and grocery", "超市"), "5422": ("Meat and seafood", "肉类海鲜"),
        "5441": ("Confectionery", "糖果糕点"), "5462": ("Bakeries", "面包房"), "5499": ("Food stores", "食品店"),
        "5511": ("Car dealers", "汽车经销"), "5541": ("Service stations", "加油站"), "5611": ("Men's clothing", "男装"),
        "5621": ("Women's clothing", "女装"), "5651": ("Family clothing", "服装"), "5661": ("Shoe stores", "鞋店"),
        "5712": ("Furniture", "家具"), "5722": ("Household appliances", "家用电器"), "5732": ("Electronics", "电子产品"),
        "5812": ("Restaurants", "餐厅"), "5813": ("Bars", "酒吧"), "5814": ("Fast food", "快餐"), "5912": ("Pharmacies", "药店"),
        "5933": ("Pawn shops", "典当"), "5937": ("Antiques", "古玩"), "5941": ("Sporting goods", "体育用品"),
        "5944": ("Jewellery", "珠宝首饰"), "5945": ("Toys and games", "玩具"), "5960": ("Direct marketing: insurance", "直销保险"),
        "5967": ("Direct marketing: inbound telemarketing", "电话直销"), "5977": ("Cosmetics", "化妆品"), "5992": ("Florists", "花店"),
        "5993": ("Tobacco", "烟草"), "5999": ("Miscellaneous retail", "其他零售"), "6010": ("Cash disbursement (bank)", "银行现金"),
        "6011": ("ATM cash", "自动取款"), "6051": ("Quasi-cash, crypto", "准现金"), "6211": ("Securities brokers", "证券"),
        "6300": ("Insurance", "保险"), "6513": ("Real estate agents", "房地产中介"), "7011": ("Hotels", "酒店"),
        "7230": ("Beauty and barber", "美容美发"), "7273": ("Dating services", "婚介交友"), "7298": ("Health and beauty spas", "美容水疗"),
        "7399": ("Business services", "商业服务"), "7523": ("Parking", "停车场"), "7538": ("Car repair", "汽车维修"),
        "7832": ("Cinemas", "电影院"), "7941": ("Sports clubs", "体育俱乐部"), "7994": ("Video game arcades", "游戏厅"),
        "7995": ("Gambling", "博彩"), "7997": ("Membership clubs", "会员俱乐部"), "8011": ("Doctors", "诊所"),
        "8062": ("Hospitals", "医院"), "8211": ("Schools", "学校"), "8299": ("Education services", "教育培训"),
        "8398": ("Charities", "慈善"), "9311": ("Tax payments", "缴税"), "9399": ("Government services", "政府服务"),
    ]

    /// Categories acquirers treat as high risk (cash-like, frequent chargebacks or laundering
    /// channels): a file in one of them starts at high risk.
    public static let highRiskCategories: Set<String> = ["4829", "5933", "5937", "5944", "5960", "5967", "5993", "6010", "6011",
                                                          "6051", "6211", "7273", "7994", "7995"]

    /// A 4-digit merchant category code.
    public static func mcc(_ raw: String, field: String = "mcc") throws -> String {
        let value = raw.trimmingCharacters(in: .whitespaces)
        guard value.count == 4, value.allSatisfy({ $0.isASCII && $0.isNumber }), value != "0000" else {
            throw DomainError.invalid(field, "must be a 4-digit merchant category code (e.g. 5411)")
        }
        return value
    }

    /// The category's name in a console language, or the code itself when unlisted.
    public static func categoryName(_ mcc: String, locale: String) -> String {
        guard let names = categories[mcc] else { return mcc }
        return "\(mcc) \(locale.hasPrefix("zh") ? names.zh : names.en)"
    }

    /// A 4-digit UnionPay area code (e.g. 2900 Shanghai, 5840 Shenzhen).
    public static func areaCode(_ raw: String, field: String = "areaCode") throws -> String {
        let value = raw.trimmingCharacters(in: .whitespaces)
        guard value.count == 4, value.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw DomainError.invalid(field, "must be a 4-digit area code")
        }
        return value
    }

    /// A phone number: a mainland mobile (11 digits starting with 1) or a landline with area code
    /// ("021-61234567"), optionally with +86.
    public static func phone(_ raw: String, field: String) throws -> String {
        var value = raw.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: " ", with: "")
        if value.hasPrefix("+86") { value.removeFirst(3) }
        let digits = value.filter { $0 != "-" }
        let mobile = digits.count == 11 && digits.hasPrefix("1")
        let landline = value.contains("-") && value.hasPrefix("0") && (10...12).contains(digits.count)
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }), mobile || landline else {
            throw DomainError.invalid(field, "must be an 11-digit mobile number or a landline with its area code (021-61234567)")
        }
        return value
    }

    /// Checks the contacts: 1 to 10, each with role, name and phone.
    public static func contacts(_ contacts: [MerchantContact]) throws -> [MerchantContact] {
        guard (1...10).contains(contacts.count) else { throw DomainError.invalid("contacts", "give 1 to 10 contacts") }
        return try contacts.enumerated().map { index, contact in
            MerchantContact(role: try AccessRules.text(contact.role, field: "contacts.\(index).role", max: 60),
                            name: try AccessRules.text(contact.name, field: "contacts.\(index).name", max: 60),
                            phone: try phone(contact.phone, field: "contacts.\(index).phone"))
        }
    }

    /// The risk level a file starts with: high for high-risk categories, medium for mobile
    /// businesses (harder to inspect, easier to move a terminal), low otherwise. The reviewer
    /// decides the final level.
    public static func suggestedRisk(mcc: String, businessType: BusinessType) -> RiskLevel {
        if highRiskCategories.contains(mcc) { return .high }
        return businessType == .mobile ? .medium : .low
    }

    /// A file name safe to show and to put in a download header: path parts, control and quote
    /// characters removed, at most 100 characters, never empty.
    public static func filename(_ raw: String?, format: DocumentFormat) -> String {
        let base = (raw ?? "").split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let cleaned = String(base.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) && $0 != "\"" && $0 != ";" })
            .trimmingCharacters(in: .whitespaces)
        return cleaned.isEmpty ? "document.\(format.fileExtension)" : String(cleaned.prefix(100))
    }

    /// The MID prefix of a merchant: "898" (UnionPay merchant codes), area code, category.
    public static func midPrefix(areaCode: String, mcc: String) -> String { "898" + areaCode + mcc }

    /// The MID after the last one used with this prefix; nil when the 4-digit sequence is used up.
    public static func nextMID(prefix: String, after last: String?) -> String? {
        let used = last.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0
        guard used < 9999 else { return nil }
        return prefix + String(format: "%04d", used + 1)
    }
}
