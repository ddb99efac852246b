# 退出研究与更正表单。
nothing-changed = 未作任何更改：请至少更正一项数值，或保持该筛选不变。
withdraw-title = 使 { $patient } 退出研究
withdraw-closed = 试验已关闭；不能再使任何受试者退出研究。
withdraw-explained = 受试者在分析中仍保留在原组别（意向性治疗）；退出及其原因记录在稽查轨迹中。
withdraw-reason = 退出原因
review = 核对
back-to-subject = 返回受试者
withdraw-page-title = 受试者退出研究
already-withdrawn = 该受试者已退出研究
paren-open = （
comma-by = ，操作人{" "}
paren-close = ）
nothing-was-changed = 未作任何更改。
withdraw-confirm-title = 确定使患者 { $patient }（受试者 { $subject }）退出研究吗？此操作不可撤销。
withdraw-patient = 使 { $patient } 退出研究
withdraw-confirm-page-title = 确认退出研究
