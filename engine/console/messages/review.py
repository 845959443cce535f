"""Words of the procedures review against the national catalogue."""

VI: dict[str, str] = {
    "review.title": "Rà soát quy trình theo CSDL quốc gia về TTHC",
    "review.link": "Rà soát theo CSDL quốc gia",
    "review.lead": "Các quy trình đang áp dụng so với Cơ sở dữ liệu quốc gia về thủ tục hành chính đã nhập: thời hạn "
                   "khác, thủ tục đã bãi bỏ mà quy trình vẫn nhận hồ sơ, thủ tục chưa có quy trình ISO, mã chưa có "
                   "trong CSDL; kèm ngày thay đổi để lập kế hoạch sửa đổi (ISO 9001 mục 6.3).",
    "review.at": "Tính đến ngày",
    "review.at_hint": "dd/mm/yyyy; để trống: hôm nay",
    "review.show": "Rà soát",
    "review.as_of": "Rà soát tính đến {at}.",
    "review.scope": "Các quy trình liên quan đến đơn vị của bạn ({agencies}) và các thủ tục trong CSDL quốc gia.",
    "review.contents": "Các danh sách",
    "review.code": "Mã thủ tục",
    "review.changed_on": "Ngày thay đổi",
    "review.deployed_limit": "Thời hạn đang áp dụng",
    "review.catalogue_limit": "Thời hạn theo CSDL quốc gia",
    "review.detail": "Chi tiết",
    "review.none": "Không có.",
    "review.kind.limit_differs": "Thời hạn giải quyết khác CSDL quốc gia",
    "review.kind.abolished_in_force": "Thủ tục đã bãi bỏ nhưng quy trình vẫn áp dụng",
    "review.kind.not_deployed": "Thủ tục chưa có quy trình ISO",
    "review.kind.not_in_catalogue": "Mã thủ tục không có trong CSDL quốc gia",
    "review.kind.limit_unknown": "Thời hạn trong CSDL không đọc được",
    "review.help.limit_differs": "Sửa thời hạn của quy trình và triển khai phiên bản mới; ngày thay đổi là ngày "
                                 "hiệu lực trong CSDL.",
    "review.help.abolished_in_force": "Ngừng áp dụng quy trình từ ngày bãi bỏ.",
    "review.help.not_deployed": "Xây dựng quy trình nội bộ cho thủ tục; ngày là ngày hiệu lực trong CSDL.",
    "review.help.not_in_catalogue": "Kiểm tra mã thủ tục; ngày là ngày triển khai quy trình.",
    "review.help.limit_unknown": "Thời hạn công bố không quy đổi được ra thời gian làm việc; kiểm tra bằng tay.",
}

EN: dict[str, str] = {
    "review.title": "Review against the national catalogue of procedures",
    "review.link": "Review against the national catalogue",
    "review.lead": "The procedures in force against the imported national catalogue of administrative procedures: "
                   "a different statutory limit, an abolished procedure still taking cases, a catalogue procedure "
                   "without an ISO procedure, a code missing from the catalogue; each with the date of the change, to "
                   "plan the revision (ISO 9001 clause 6.3).",
    "review.at": "As of",
    "review.at_hint": "dd/mm/yyyy; empty: today",
    "review.show": "Review",
    "review.as_of": "Review as of {at}.",
    "review.scope": "The procedures that concern your agencies ({agencies}) and the national catalogue's procedures.",
    "review.contents": "The lists",
    "review.code": "Procedure code",
    "review.changed_on": "Changed on",
    "review.deployed_limit": "Deployed limit",
    "review.catalogue_limit": "Catalogue limit",
    "review.detail": "Detail",
    "review.none": "None.",
    "review.kind.limit_differs": "Statutory limit differs from the catalogue",
    "review.kind.abolished_in_force": "Abolished but still in force",
    "review.kind.not_deployed": "Catalogue procedures without an ISO procedure",
    "review.kind.not_in_catalogue": "Deployed codes missing from the catalogue",
    "review.kind.limit_unknown": "Catalogue limit that does not read",
    "review.help.limit_differs": "Revise the procedure's limit and deploy a new version; the date is the catalogue "
                                 "entry's effective date.",
    "review.help.abolished_in_force": "Retire the procedure from the day it was abolished.",
    "review.help.not_deployed": "Write the internal procedure; the date is the catalogue entry's effective date.",
    "review.help.not_in_catalogue": "Check the procedure code; the date is the version's deployment date.",
    "review.help.limit_unknown": "The published limit does not convert to working time; check it by hand.",
}
